import { Router } from 'express';
import type { QuotaConsumeRequest, QuotaRenewRequest } from '../../../sdk/src/types.gen.js';
import { requireAuth } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { QuotasService } from './quotas.service.js';

/** A user's quotas: list, consume, renew (spec tag `quotas`); the validator has checked path and bodies. */
export function quotasRoutes({ quotas }: { quotas: QuotasService }): Router {
  const r = Router();
  r.get('/api/v1/users/:user_id/quotas', async (req, res) => {
    res.json(await quotas.list(requireAuth(req).sub, req.params.user_id));
  });
  r.post('/api/v1/users/:user_id/quotas/consume', async (req, res) => {
    res.json(await quotas.consume(requireAuth(req).sub, req.params.user_id, req.body as QuotaConsumeRequest));
  });
  r.post('/api/v1/users/:user_id/quotas/renew', async (req, res) => {
    const auth = requireAuth(req);
    res.json(await quotas.renew({ userId: auth.sub, sessionId: auth.sid }, req.params.user_id, req.body as QuotaRenewRequest, requestContext(req)));
  });
  return r;
}
