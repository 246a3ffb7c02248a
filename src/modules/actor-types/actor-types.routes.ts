import { Router } from 'express';
import type { ActorTypePolicy, SwitchActorRequest } from '../../../sdk/src/types.gen.js';
import { requireOwnSession } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { ActorTypePolicies } from './actor-type-policies.js';
import type { ActorSwitch } from './switch-actor.js';

/** Actor-type policies and switch-actor (spec tag `actor-types`); the validator has checked paths and bodies. */
export function actorTypesRoutes({ policies, switcher }: { policies: ActorTypePolicies; switcher: ActorSwitch }): Router {
  const r = Router();
  r.get('/api/v1/actor-types', async (_req, res) => {
    res.json(await policies.list());
  });
  r.put('/api/v1/admin/actor-types/:name', async (req, res) => {
    const auth = requireOwnSession(req);
    const { actorType, created } = await policies.put(auth, req.params.name, req.body as ActorTypePolicy, requestContext(req));
    res.status(created ? 201 : 200).json(actorType);
  });
  r.post('/api/v1/auth/switch-actor', async (req, res) => {
    // An impersonation keeps its actor chain only in its own session: it does not switch.
    const auth = requireOwnSession(req);
    res.json(await switcher.switchTo(auth, (req.body as SwitchActorRequest).actor_type, requestContext(req)));
  });
  return r;
}
