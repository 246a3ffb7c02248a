import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import { recordAudit } from '../identity/audit-trail.js';
import type { Clock } from '../infra/clock.js';
import { sessionTokenOf } from './authenticate.js';
import { requestContext } from './request-context.js';

/**
 * Every request made under an impersonation leaves an `impersonation.request` audit row with
 * both ids (the user, and the administrator as actor) before its handler runs: a request whose
 * row cannot be written is not served (README "Administration"). The rows its handler writes
 * name the administrator too (requestContext carries the chain).
 */
export function impersonationTrail(deps: { db: Knex; clock: Clock }): RequestHandler {
  return async (req, _res, next) => {
    const token = sessionTokenOf(req);
    if (!token?.act) return next();
    try {
      const route = (req as { openapi?: { openApiRoute?: string } }).openapi?.openApiRoute;
      await recordAudit(deps.db, deps.clock, {
        event: 'impersonation.request',
        userId: token.sub,
        sessionId: token.sid,
        context: requestContext(req),
        details: { method: req.method, route: route ?? req.path, request_id: String(req.id ?? '') },
      });
      next();
    } catch (err) {
      next(err);
    }
  };
}
