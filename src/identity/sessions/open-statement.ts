import type { Knex } from 'knex';
import { insertWhere } from '../../infra/db.js';
import { sessionsRepo, type DeviceSeen, type StoredSession } from './sessions.repo.js';

/** Everything a session's opening writes, as rows made beforehand (see openingStatement). */
export interface Opening {
  session: StoredSession;
  refresh: { session_id: string; token_hash: string; generation: number; created_at: Date };
  /** The audit row (auditRow); `new_device` is added to its details by the statement. */
  audit: Record<string, unknown> & { details: string };
  /**
   * The device the session opens from, looked up in the user's earlier sessions (the audit row's
   * `new_device`), with the outbox row (outboxRow) of the notice a new device sends, if any;
   * undefined: not looked up, `new_device` is false.
   */
  device?: { seen: DeviceSeen; notice?: Record<string, unknown> };
  /** More writes that commit with the session (data-modifying builders, not run). */
  writes: Knex.QueryBuilder[];
}

/**
 * One statement (data-modifying CTEs) that opens a session: the device history it is judged
 * against (read as it was before this session, as every CTE sees the same snapshot), the
 * session, its first refresh token, its audit row, the new-device notice when one is due, and
 * the caller's other writes. Atomic on its own; run inside a transaction when more must join it.
 */
export function openingStatement(db: Knex, opening: Opening): Knex.QueryBuilder {
  const { session, refresh, audit, device, writes } = opening;
  let query = db.queryBuilder();
  if (device) {
    query = query.with('history', sessionsRepo.deviceHistoryQuery(db, session.user_id, device.seen));
  }
  const newDevice = device ? db.raw('(select same = 0 from history)') : db.raw('false');
  query = query
    .with('opened_session', db('sessions').insert(session))
    .with('opened_refresh', db('refresh_tokens').insert(refresh))
    .with('opened_audit', insertWhere(db, 'audit_logs', { ...audit, details: db.raw(`?::jsonb || jsonb_build_object('new_device', ?)`, [audit.details, newDevice]) }, true));
  // The first session is silent; a device seen before on the account too.
  if (device?.notice) query = query.with('opened_notice', insertWhere(db, 'outbox_messages', device.notice, db.raw('(select earlier > 0 and same = 0 from history)')));
  writes.forEach((write, i) => (query = query.with(`opened_write_${i}`, write)));
  return query.select(db.raw('true as opened'));
}
