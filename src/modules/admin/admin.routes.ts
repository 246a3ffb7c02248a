import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { Router, type Request } from 'express';
import type { Logger } from 'pino';
import type { AdminUserUpdateRequest, ImpersonationRequest, UserImportRequest } from '../../../sdk/src/types.gen.js';
import { requireAuth, requireOwnSession } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { AuditLogFilter } from '../../identity/audit-trail.js';
import type { OrgRole } from '../../identity/org-roles.js';
import type { UserStatus } from '../../identity/users.repo.js';
import { pageOf } from '../../shared/pagination.js';
import type { AdminOrganizations, OrganizationSearchQuery } from './admin-organizations.service.js';
import type { AdminUsers, UserSearchQuery } from './admin-users.service.js';
import type { AuditLogs } from './audit-logs.service.js';
import type { Impersonations } from './impersonation.service.js';
import type { UserImport } from './user-import.js';

/** The import takes a larger body than BODY_LIMIT (app.ts gives this path its own parser). */
export const importPath = '/api/v1/admin/users/import';

export interface AdminRoutesDeps {
  users: AdminUsers;
  importer: UserImport;
  impersonations: Impersonations;
  auditLogs: AuditLogs;
  organizations: AdminOrganizations;
  logger: Logger;
}

type Query = Record<string, unknown>;
const text = (q: Query, key: string) => (q[key] === undefined ? undefined : String(q[key]));
const date = (q: Query, key: string) => (q[key] === undefined ? undefined : new Date(String(q[key])));
/** A boolean query parameter (the validator may leave it as its text). */
const flag = (q: Query, key: string) => (q[key] === undefined ? undefined : String(q[key]) === 'true');

/** The search query as the validator let it through (a boolean may still be its text). */
function searchQuery(q: Query): UserSearchQuery {
  return {
    email: text(q, 'email'),
    name: text(q, 'name'),
    phone: text(q, 'phone'),
    status: text(q, 'status') as UserStatus | undefined,
    actor_type: text(q, 'actor_type'),
    role: text(q, 'role'),
    is_guest: flag(q, 'is_guest'),
    organization_id: text(q, 'organization_id'),
    org_role: text(q, 'org_role') as OrgRole | undefined,
    created_after: text(q, 'created_after'),
    created_before: text(q, 'created_before'),
  };
}

function organizationQuery(q: Query): OrganizationSearchQuery {
  return { name: text(q, 'name'), slug: text(q, 'slug'), deleted: flag(q, 'deleted'), created_after: text(q, 'created_after'), created_before: text(q, 'created_before') };
}

function auditFilter(q: Query): AuditLogFilter {
  return { actorId: text(q, 'actor_id'), userId: text(q, 'user_id'), sessionId: text(q, 'session_id'), event: text(q, 'event'), from: date(q, 'from'), to: date(q, 'to') };
}

/** The export's columns, in order (the spec's text/csv description). */
const csvColumns = ['id', 'created_at', 'event', 'user_id', 'actor_id', 'session_id', 'identifier', 'ip', 'user_agent', 'details'];

function wantsCsv(req: Request): boolean {
  return req.accepts(['application/json', 'text/csv']) === 'text/csv';
}

/**
 * Administration (spec tag `admin`, README "Administration"); the validator has checked queries,
 * paths and bodies, each service checks its permission.
 */
export function adminRoutes({ users, importer, impersonations, auditLogs, organizations, logger }: AdminRoutesDeps): Router {
  const r = Router();
  r.get('/api/v1/admin/users', async (req, res) => {
    const query = req.query as Query;
    res.json(await users.search(requireAuth(req), searchQuery(query), pageOf(query as { limit?: string }), requestContext(req)));
  });
  r.post(importPath, async (req, res) => {
    res.json(await importer.run(requireOwnSession(req), (req.body as UserImportRequest).users, requestContext(req)));
  });
  r.get('/api/v1/admin/users/:user_id', async (req, res) => {
    res.json(await users.get(requireAuth(req), req.params.user_id, requestContext(req)));
  });
  r.patch('/api/v1/admin/users/:user_id', async (req, res) => {
    res.json(await users.update(requireOwnSession(req), req.params.user_id, req.body as AdminUserUpdateRequest, requestContext(req)));
  });
  r.post('/api/v1/admin/users/:user_id/impersonate', async (req, res) => {
    res.json(await impersonations.start(requireAuth(req), req.params.user_id, (req.body as ImpersonationRequest).reason, requestContext(req)));
  });
  r.post('/api/v1/auth/impersonation/stop', async (req, res) => {
    await impersonations.stop(requireAuth(req), requestContext(req));
    res.status(204).end();
  });
  r.get('/api/v1/admin/organizations', async (req, res) => {
    const query = req.query as Query;
    res.json(await organizations.search(requireAuth(req), organizationQuery(query), pageOf(query as { limit?: string }), requestContext(req)));
  });
  r.get('/api/v1/admin/audit-logs', async (req, res) => {
    const query = req.query as Query;
    const auth = requireAuth(req);
    if (!wantsCsv(req)) {
      res.json(await auditLogs.page(auth, auditFilter(query), pageOf(query as { limit?: string }), requestContext(req)));
      return;
    }
    const rows = await auditLogs.export(auth, auditFilter(query), text(query, 'cursor'), requestContext(req));
    res.status(200).type('text/csv; charset=utf-8').attachment('audit-logs.csv');
    // Cells a spreadsheet would run as a formula (a user agent starting with "=") get a leading quote.
    const csv = stringify({ header: true, columns: csvColumns, escape_formulas: true, cast: { date: (d) => d.toISOString(), object: (o) => JSON.stringify(o) } });
    try {
      await pipeline(Readable.from(rows), csv, res);
    } catch (err) {
      // A client that hangs up mid-export stops the reading; anything else cuts the answer short.
      if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        (req.log ?? logger).error({ err }, 'audit-log export failed');
        res.destroy();
      }
    }
  });
  return r;
}
