import { Router } from 'express';
import type { Metrics } from '../../infra/metrics.js';
import { requestContext } from '../audit/request-context.js';
import { requireAuth } from '../auth/bearer-auth.js';
import type { Sessions } from './sessions.service.js';

const defaultPageSize = 20;

/** The signed-in user's session list and its revocation; the validator has checked the query and path. */
export function sessionsRoutes(sessions: Sessions, metrics: Metrics): Router {
  const r = Router();
  r.get('/api/v1/auth/sessions', async (req, res) => {
    const auth = requireAuth(req);
    const query = req.query as { limit?: string | number; cursor?: string };
    const limit = query.limit === undefined ? defaultPageSize : Number(query.limit);
    res.json(await sessions.list(auth.sub, auth.sid, { limit, cursor: query.cursor }));
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
