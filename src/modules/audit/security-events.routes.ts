import { Router } from 'express';
import type { Knex } from 'knex';
import { requireAuth } from '../../http/authenticate.js';
import { listSecurityEvents } from '../../identity/audit-trail.js';
import { pageOf } from '../../shared/pagination.js';

/** The signed-in user's own audit trail; the validator has checked the query. */
export function securityEventsRoutes(deps: { db: Knex }): Router {
  const r = Router();
  r.get('/api/v1/auth/security-events', async (req, res) => {
    const auth = requireAuth(req);
    res.json(await listSecurityEvents(deps.db, auth.sub, pageOf(req.query as { limit?: string; cursor?: string })));
  });
  return r;
}
