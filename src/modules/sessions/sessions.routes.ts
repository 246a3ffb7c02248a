import { Router } from 'express';
import { requireAuth } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { Sessions } from '../../identity/sessions/sessions.js';
import type { Metrics } from '../../infra/metrics.js';
import { AppError } from '../../shared/errors.js';
import { pageOf } from '../../shared/pagination.js';
import { toSessionView } from './session-view.js';

export interface SessionsRoutesDeps {
  sessions: Sessions;
  metrics: Pick<Metrics, 'refreshTotal' | 'logoutTotal' | 'sessionRevocations'>;
}

/** Refresh, logout, and the signed-in user's session list and its revocation; the validator has checked bodies, queries and paths. */
export function sessionsRoutes({ sessions, metrics }: SessionsRoutesDeps): Router {
  const r = Router();
  r.post('/api/v1/auth/refresh', async (req, res) => {
    try {
      const tokens = await sessions.refresh((req.body as { refresh_token: string }).refresh_token, requestContext(req));
      metrics.refreshTotal.inc({ status: 'success' });
      res.json(tokens);
    } catch (err) {
      metrics.refreshTotal.inc({ status: err instanceof AppError ? err.code : 'error' });
      throw err;
    }
  });
  r.post('/api/v1/auth/logout', async (req, res) => {
    const allDevices = (req.body as { all_devices?: boolean } | undefined)?.all_devices === true;
    await sessions.logout(requireAuth(req), allDevices, requestContext(req));
    metrics.logoutTotal.inc({ type: allDevices ? 'all_devices' : 'manual' });
    res.status(204).end();
  });
  r.get('/api/v1/auth/sessions', async (req, res) => {
    const auth = requireAuth(req);
    const page = await sessions.list(auth.sub, pageOf(req.query as { limit?: string; cursor?: string }));
    res.json({ items: page.items.map((s) => toSessionView(s, auth.sid)), next_cursor: page.next_cursor });
  });
  r.delete('/api/v1/auth/sessions', async (req, res) => {
    const auth = requireAuth(req);
    const revoked = await sessions.revokeOthers(auth.sub, auth.sid, requestContext(req));
    metrics.sessionRevocations.inc({ scope: 'others' }, revoked);
    res.json({ revoked_sessions: revoked });
  });
  r.delete('/api/v1/auth/sessions/:session_id', async (req, res) => {
    const auth = requireAuth(req);
    await sessions.revokeOne(auth.sub, req.params.session_id, requestContext(req));
    metrics.sessionRevocations.inc({ scope: 'session' });
    res.status(204).end();
  });
  return r;
}
