import type { Session } from '../../../sdk/src/types.gen.js';
import { AppError } from '../../shared/errors.js';
import type { SessionRow } from './sessions.service.js';

/** A session as the user sees it in their session list: the spec's `Session`, as generated into the SDK. */
export type SessionView = Session;

export interface ListedRow extends SessionRow, KeysetRow {
  device_name: string | null;
  device_type: string | null;
  ip: string | null;
  user_agent: string | null;
  last_active_at: Date;
}

const cursorPattern = /^(\d{1,16}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** A row of a keyset page ordered by (created_at desc, id desc). */
export interface KeysetRow {
  id: string;
  /** created_at in microseconds since the epoch (exact, as text). */
  created_us: string;
}

/** The SQL for created_at in whole microseconds (exact, unlike a JavaScript Date). */
export const createdUsSql = '(extract(epoch from created_at) * 1000000)::bigint';

export function encodeCursor(row: KeysetRow): string {
  return Buffer.from(`${row.created_us}:${row.id}`).toString('base64url');
}

/** The (created_at in microseconds, id) a page cursor stands for; 400 when it is not one of ours. */
export function decodeCursor(cursor: string): { createdUs: string; id: string } {
  const match = cursorPattern.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) {
    throw new AppError('validation_failed', {
      detail: 'The cursor is not valid; use the next_cursor of a previous page.',
      errors: [{ path: '/query/cursor', message: 'must be the next_cursor of a previous page' }],
    });
  }
  return { createdUs: match[1]!, id: match[2]! };
}

export function toSessionView(row: ListedRow, currentSid: string): SessionView {
  return {
    id: row.id,
    current: row.id === currentSid,
    actor_type: row.actor_type,
    auth_method: row.auth_method,
    amr: row.amr,
    device_name: row.device_name,
    device_type: row.device_type,
    ip: row.ip,
    user_agent: row.user_agent,
    created_at: row.created_at.toISOString(),
    last_active_at: row.last_active_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
  };
}
