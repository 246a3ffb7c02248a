import { Router } from 'express';
import type { ConvertGuestRequest, GuestRequest, UserUpdateRequest } from '../../../sdk/src/types.gen.js';
import type { Container } from '../../container.js';
import { requestContext } from '../audit/request-context.js';
import { requireAuth } from '../auth/bearer-auth.js';
import { GuestsService } from './guests.service.js';
import { UsersService } from './users.service.js';

/** Guests, users and guest conversion (SPEC §4.5); the validator has already checked bodies and paths. */
export function usersRoutes(c: Container): Router {
  const users = new UsersService(c.db, c.clock, c.sessions);
  const guests = new GuestsService(c.db, c.clock, c.hasher, c.sessions, { appUrl: c.config.APP_URL, defaultActorType: c.config.DEFAULT_ACTOR_TYPE });
  const r = Router();
  r.post('/api/v1/auth/guest', async (req, res) => {
    res.status(201).json(await guests.create((req.body ?? {}) as GuestRequest, requestContext(req)));
  });
  r.get('/api/v1/users/:user_id', async (req, res) => {
    res.json(await users.get(requireAuth(req), req.params.user_id));
  });
  r.patch('/api/v1/users/:user_id', async (req, res) => {
    res.json(await users.update(requireAuth(req), req.params.user_id, req.body as UserUpdateRequest, requestContext(req)));
  });
  r.delete('/api/v1/users/:user_id', async (req, res) => {
    await users.delete(requireAuth(req), req.params.user_id, requestContext(req));
    res.status(204).end();
  });
  r.post('/api/v1/users/:user_id/convert', async (req, res) => {
    res.json(await guests.convert(requireAuth(req), req.params.user_id, req.body as ConvertGuestRequest, requestContext(req)));
  });
  return r;
}
