import { Router } from 'express';
import { requireAuth } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import { pageOf } from '../../shared/pagination.js';
import type { DevicesService } from './devices.service.js';

/** The signed-in user's devices and their revocation; the validator has checked queries and paths. */
export function devicesRoutes({ devices }: { devices: DevicesService }): Router {
  const r = Router();
  r.get('/api/v1/auth/devices', async (req, res) => {
    res.json(await devices.list(requireAuth(req), pageOf(req.query as { limit?: string; cursor?: string })));
  });
  r.delete('/api/v1/auth/devices/:device_id', async (req, res) => {
    res.json(await devices.revoke(requireAuth(req), req.params.device_id, requestContext(req)));
  });
  return r;
}
