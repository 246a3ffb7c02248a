import type { Session } from '../../../sdk/src/types.gen.js';
import type { StoredSession } from '../../identity/sessions/sessions.repo.js';

/** A session as the user sees it in their session list: the spec's `Session`. */
export function toSessionView(row: StoredSession, currentSid: string): Session {
  return {
    id: row.id,
    current: row.id === currentSid,
    actor_type: row.actor_type,
    auth_method: row.auth_method,
    amr: row.amr,
    device_id: row.device_ref,
    device_name: row.device_name,
    device_type: row.device_type,
    ip: row.ip,
    user_agent: row.user_agent,
    created_at: row.created_at.toISOString(),
    last_active_at: row.last_active_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
    impersonator_id: row.impersonator_id ?? null,
  };
}
