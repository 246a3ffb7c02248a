import type { Knex } from 'knex';
import type { AuditLogEntry, AuditLogList } from '../../../sdk/src/types.gen.js';
import { recordAudit, searchAuditLog, type AuditLogFilter, type AuditLogRow } from '../../identity/audit-trail.js';
import { requirePermission } from '../../identity/authorize.js';
import type { Clock } from '../../infra/clock.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { Page, PageRequest } from '../../shared/pagination.js';
import type { RequestContext } from '../../shared/request-context.js';
import { adminPermissions } from './admin-permissions.js';

/** Rows per read of an export: memory stays bounded whatever the size of the log. */
export const exportBatchSize = 500;

export interface AuditLogsDeps {
  db: Knex;
  clock: Clock;
}

type Caller = Pick<VerifiedAccessToken, 'sub'>;

export function toAuditLogEntry(row: AuditLogRow): AuditLogEntry {
  return {
    id: row.id,
    event: row.event,
    user_id: row.user_id,
    actor_id: row.actor_id,
    session_id: row.session_id,
    identifier: row.identifier,
    ip: row.ip,
    user_agent: row.user_agent,
    details: row.details,
    created_at: row.created_at.toISOString(),
  };
}

function filterDetails(filter: AuditLogFilter): Record<string, string> {
  return Object.fromEntries(Object.entries(filter).flatMap(([k, v]) => (v === undefined ? [] : [[k, v instanceof Date ? v.toISOString() : String(v)]])));
}

/** Administrators' queries of the whole audit log (README "Administration"): JSON pages, and an export read in keyset batches. */
export class AuditLogs {
  constructor(private readonly deps: AuditLogsDeps) {}

  async page(caller: Caller, filter: AuditLogFilter, page: PageRequest, context: RequestContext): Promise<AuditLogList> {
    const first = await this.authorizedFirstPage(caller, filter, page, context, 'json');
    return { items: first.items.map(toAuditLogEntry), next_cursor: first.next_cursor };
  }

  /**
   * Every row matching `filter` (after `cursor`), newest first, `exportBatchSize` at a time:
   * each batch is one index range scan that starts where the last one ended, so the export holds
   * no connection or transaction between batches and stops reading when its consumer stops.
   * The permission, the filter and the cursor are checked, and the audit row written, before
   * the first row is handed out (errors can still be answered as problem+json).
   */
  async export(caller: Caller, filter: AuditLogFilter, cursor: string | undefined, context: RequestContext): Promise<AsyncIterable<AuditLogRow>> {
    const first = await this.authorizedFirstPage(caller, filter, { limit: exportBatchSize, cursor }, context, 'csv');
    const { db } = this.deps;
    return (async function* rows() {
      for (let batch: Page<AuditLogRow> | undefined = first; batch; ) {
        yield* batch.items;
        batch = batch.next_cursor ? await searchAuditLog(db, filter, { limit: exportBatchSize, cursor: batch.next_cursor }) : undefined;
      }
    })();
  }

  private async authorizedFirstPage(caller: Caller, filter: AuditLogFilter, page: PageRequest, context: RequestContext, format: 'json' | 'csv'): Promise<Page<AuditLogRow>> {
    const { db, clock } = this.deps;
    await requirePermission(db, clock, caller.sub, adminPermissions.readAuditLogs);
    if (filter.from && filter.to && filter.from.getTime() >= filter.to.getTime()) {
      throw new AppError('validation_failed', { detail: 'The time range is empty: `from` must come before `to`.', errors: [{ path: '/query/to', message: 'must be after from' }] });
    }
    const first = await searchAuditLog(db, filter, page);
    await recordAudit(db, clock, { event: 'audit_logs.read', actorId: caller.sub, context, details: { format, filters: filterDetails(filter) } });
    return first;
  }
}
