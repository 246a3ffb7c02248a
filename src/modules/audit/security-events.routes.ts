import { Router } from 'express';
import type { Knex } from 'knex';
import { requireAuth } from '../auth/bearer-auth.js';
import { listSecurityEvents } from './security-events.repo.js';

const defaultPageSize = 20;

/** The signed-in user's own audit trail; the validator has checked the query. */
export function securityEventsRoutes(db: Knex): Router {
  const r = Router();
  r.get('/api/v1/auth/security-events', async (req, res) => {
    const auth = requireAuth(req);
    const query = req.query as { limit?: string | number; cursor?: string };
    const limit = query.limit === undefined ? defaultPageSize : Number(query.limit);
    res.json(await listSecurityEvents(db, auth.sub, { limit, cursor: query.cursor }));
  });
  return r;
}
