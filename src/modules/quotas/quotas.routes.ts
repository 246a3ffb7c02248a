import { Router } from 'express';
import type { QuotaConsumeRequest, QuotaRenewRequest } from '../../../sdk/src/types.gen.js';
import { requireAuth, requireCaller } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { LimitDeclaration, RateLimits } from '../../http/rate-limit/rate-limits.js';
import type { QuotasService } from './quotas.service.js';

export interface QuotasRoutesDeps {
  quotas: QuotasService;
  limits: RateLimits;
  /** README "API keys": requests an API key authenticates, per key. */
  rules: { apiKey: LimitDeclaration['rule'] };
}

/** A user's quotas: list, consume, renew (spec tag `quotas`); the validator has checked path and bodies. */
export function quotasRoutes({ quotas, limits, rules }: QuotasRoutesDeps): Router {
  const r = Router();
  const apiKeyLimit = limits.of({ name: 'api-key', rule: rules.apiKey, by: 'api_key' });
  r.get('/api/v1/users/:user_id/quotas', async (req, res) => {
    res.json(await quotas.list(requireAuth(req).sub, req.params.user_id));
  });
  r.post('/api/v1/users/:user_id/quotas/consume', ...apiKeyLimit, async (req, res) => {
    res.json(await quotas.consume(requireCaller(req), req.params.user_id as string, req.body as QuotaConsumeRequest));
  });
  r.post('/api/v1/users/:user_id/quotas/renew', ...apiKeyLimit, async (req, res) => {
    res.json(await quotas.renew(requireCaller(req), req.params.user_id as string, req.body as QuotaRenewRequest, requestContext(req)));
  });
  return r;
}
