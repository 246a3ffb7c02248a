import { Router } from 'express';
import type { ConvertGuestRequest, GuestRequest, UserUpdateRequest } from '../../../sdk/src/types.gen.js';
import { requireAuth, requireOwnSession } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { LimitDeclaration, RateLimits } from '../../http/rate-limit/rate-limits.js';
import type { GuestsService } from './guests.service.js';
import type { UsersService } from './users.service.js';

export interface UsersRoutesDeps {
  users: UsersService;
  guests: GuestsService;
  limits: RateLimits;
  /** README "Abuse protection": guest creations per client IP. */
  rules: { guestIp: LimitDeclaration['rule'] };
}

/** Guests, users and guest conversion (spec tag `users`); the validator has already checked bodies and paths. */
export function usersRoutes({ users, guests, limits, rules }: UsersRoutesDeps): Router {
  const r = Router();
  r.post('/api/v1/auth/guest', ...limits.of({ name: 'guest-ip', rule: rules.guestIp, by: 'ip' }), async (req, res) => {
    res.status(201).json(await guests.create((req.body ?? {}) as GuestRequest, requestContext(req)));
  });
  r.get('/api/v1/users/:user_id', async (req, res) => {
    res.json(await users.get(requireAuth(req), req.params.user_id));
  });
  r.patch('/api/v1/users/:user_id', async (req, res) => {
    res.json(await users.update(requireAuth(req), req.params.user_id, req.body as UserUpdateRequest, requestContext(req)));
  });
  r.delete('/api/v1/users/:user_id', async (req, res) => {
    // Closing an account is its owner's call (or an administrator's in their own session), never one made under an impersonation.
    await users.delete(requireOwnSession(req), req.params.user_id, requestContext(req));
    res.status(204).end();
  });
  r.post('/api/v1/users/:user_id/convert', async (req, res) => {
    res.json(await guests.convert(requireOwnSession(req), req.params.user_id, req.body as ConvertGuestRequest, requestContext(req)));
  });
  return r;
}
