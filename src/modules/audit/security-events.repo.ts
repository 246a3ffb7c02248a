import type { Knex } from 'knex';
import type { SecurityEvent, SecurityEventList } from '../../../sdk/src/types.gen.js';
import { createdUsSql, decodeCursor, encodeCursor, type KeysetRow } from '../sessions/session-list.js';

/** An `audit_logs` row as the user's own event list reads it. */
interface AuditRow extends KeysetRow {
  event: string;
  ip: string | null;
  user_agent: string | null;
  identifier: string | null;
  session_id: string | null;
  details: Record<string, unknown>;
  created_at: Date;
}

function toSecurityEvent(row: AuditRow): SecurityEvent {
  return {
    id: row.id,
    event: row.event,
    ip: row.ip,
    user_agent: row.user_agent,
    identifier: row.identifier,
    session_id: row.session_id,
    details: row.details,
    created_at: row.created_at.toISOString(),
  };
}

/**
 * A user's own security events, newest first (created_at desc, id desc), a page at a time with a
 * keyset cursor; a cursor that is not one of ours is a 400 on /query/cursor.
 */
export async function listSecurityEvents(db: Knex, userId: string, page: { limit: number; cursor?: string }): Promise<SecurityEventList> {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const query = db('audit_logs')
    .select('id', 'event', 'ip', 'user_agent', 'identifier', 'session_id', 'details', 'created_at', db.raw(`${createdUsSql}::text as created_us`))
    .where({ user_id: userId })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(page.limit + 1);
  if (after) query.whereRaw(`(${createdUsSql}, id) < (?::bigint, ?::uuid)`, [after.createdUs, after.id]);
  const rows: AuditRow[] = await query;
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { items: items.map(toSecurityEvent), next_cursor: rows.length > page.limit && last ? encodeCursor(last) : null };
}
