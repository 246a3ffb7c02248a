import { Router } from 'express';
import type { ActorTypePolicy, SwitchActorRequest } from '../../../sdk/src/types.gen.js';
import type { Container } from '../../container.js';
import { requestContext } from '../audit/request-context.js';
import { requireAuth } from '../auth/bearer-auth.js';
import { ActorTypePolicies } from './actor-type-policies.js';
import { ActorSwitch } from './switch-actor.js';

/** Actor-type policies and switch-actor (SPEC §3, §4.9); the validator has checked paths and bodies. */
export function actorTypesRoutes(c: Container): Router {
  const policies = new ActorTypePolicies(c.db, c.clock);
  const switcher = new ActorSwitch(c.db, c.clock, c.sessions);
  const r = Router();
  r.get('/api/v1/actor-types', async (_req, res) => {
    res.json(await policies.list());
  });
  r.put('/api/v1/admin/actor-types/:name', async (req, res) => {
    const auth = requireAuth(req);
    const { actorType, created } = await policies.put(auth, req.params.name, req.body as ActorTypePolicy, requestContext(req));
    res.status(created ? 201 : 200).json(actorType);
  });
  r.post('/api/v1/auth/switch-actor', async (req, res) => {
    const auth = requireAuth(req);
    res.json(await switcher.switchTo(auth, (req.body as SwitchActorRequest).actor_type, requestContext(req)));
  });
  return r;
}
