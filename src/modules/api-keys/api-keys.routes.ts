import { Router } from 'express';
import type { ApiKeyCreateRequest, ApiKeyRotateRequest } from '../../../sdk/src/types.gen.js';
import { requireAuth, requireOwnSession } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import { pageOf } from '../../shared/pagination.js';
import { defaultRotationGraceSeconds, type ApiKeysService } from './api-keys.service.js';

/** API keys: create, list, revoke, rotate (spec tag `api-keys`); the validator has checked bodies, queries and paths. */
export function apiKeysRoutes({ apiKeys }: { apiKeys: ApiKeysService }): Router {
  const r = Router();
  r.post('/api/v1/api-keys', async (req, res) => {
    res.status(201).json(await apiKeys.create(requireOwnSession(req), req.body as ApiKeyCreateRequest, requestContext(req)));
  });
  r.get('/api/v1/api-keys', async (req, res) => {
    res.json(await apiKeys.list(requireAuth(req).sub, pageOf(req.query as { limit?: string; cursor?: string })));
  });
  r.delete('/api/v1/api-keys/:key_id', async (req, res) => {
    await apiKeys.revoke(requireOwnSession(req), req.params.key_id, requestContext(req));
    res.status(204).end();
  });
  r.post('/api/v1/api-keys/:key_id/rotate', async (req, res) => {
    const grace = (req.body as ApiKeyRotateRequest | undefined)?.grace_seconds ?? defaultRotationGraceSeconds;
    res.json(await apiKeys.rotate(requireOwnSession(req), req.params.key_id, grace, requestContext(req)));
  });
  return r;
}
