import type { Knex } from 'knex';
import type { SecurityEvent, SecurityEventList } from '../../sdk/src/types.gen.js';
import type { Clock } from '../infra/clock.js';
import { insertIf } from '../infra/db.js';
import { maskIdentifier } from '../shared/logger.js';
import { keysetPage, type Page, type PageRequest } from '../shared/pagination.js';
import type { RequestContext } from '../shared/request-context.js';

/** The security events Sésame records (the spec's SecurityEvent.event lists the same). */
export type AuditEventName =
  | 'user.registered'
  | 'email.verified'
  | 'login.succeeded'
  | 'login.failed'
  | 'account.locked'
  | 'logout'
  | 'session.revoked'
  | 'refresh_token.reused'
  | 'password.changed'
  | 'password.reset_requested'
  | 'password.reset'
  | 'mfa.enabled'
  | 'mfa.disabled'
  | 'mfa.backup_codes_regenerated'
  | 'mfa.failed'
  | 'profile.updated'
  | 'guest.created'
  | 'guest.converted'
  | 'user.updated'
  | 'user.deleted'
  | 'actor.switched'
  | 'actor_type.updated'
  | 'role.granted'
  | 'role.revoked'
  | 'role.created'
  | 'role.permissions_changed'
  | 'permission.created'
  | 'quota.renewed'
  | 'identity.linked'
  | 'identity.unlinked'
  | 'phone.code_requested'
  | 'phone.code_verified'
  | 'phone.code_failed'
  | 'phone.verified'
  | 'device.added'
  | 'device.revoked'
  | 'qr.approved'
  | 'qr.refused'
  | 'organization.created'
  | 'organization.updated'
  | 'organization.deleted'
  | 'organization.switched'
  | 'organization.member_role_changed'
  | 'organization.member_removed'
  | 'organization.member_left'
  | 'organization.invitation_created'
  | 'organization.invitation_revoked'
  | 'organization.invitation_accepted'
  | 'organization.invitation_declined'
  | 'api_key.created'
  | 'api_key.rotated'
  | 'api_key.revoked'
  | 'user.suspended'
  | 'user.reactivated'
  | 'users.imported'
  | 'admin.users_searched'
  | 'admin.user_viewed'
  | 'admin.organizations_searched'
  | 'audit_logs.read'
  | 'impersonation.started'
  | 'impersonation.stopped'
  | 'impersonation.request';

export interface AuditEvent {
  event: AuditEventName;
  userId?: string | null;
  /** Who acted, when not the user themself (an admin); by default the impersonator of the context. */
  actorId?: string | null;
  sessionId?: string | null;
  /** The identifier used (an email or a phone number): stored masked, never in clear. */
  identifier?: string | null;
  context?: RequestContext;
  /** Event-specific facts; never a secret, token, code or password. */
  details?: Record<string, unknown>;
}

/** The `audit_logs` row of an event, as written now (for a statement that writes it itself). */
export function auditRow(clock: Clock, e: AuditEvent): Record<string, unknown> {
  const act = e.context?.act;
  return {
    user_id: e.userId ?? null,
    actor_id: e.actorId ?? act?.sub ?? null,
    session_id: e.sessionId ?? null,
    event: e.event,
    identifier: e.identifier ? maskIdentifier(e.identifier).slice(0, 320) : null,
    ip: e.context?.ip?.slice(0, 64) ?? null,
    user_agent: e.context?.userAgent?.slice(0, 512) ?? null,
    details: JSON.stringify(act ? { act, ...e.details } : (e.details ?? {})),
    created_at: clock.now(),
  };
}

/**
 * Writes one audit row. Call it with the transaction of the change it records, so the row
 * exists exactly when the change does (a rolled-back change leaves no audit row). `when: false`
 * writes nothing at the same cost (see insertIf). A row written under an impersonation names
 * the impersonator as its actor and keeps the chain in `details.act`.
 */
export async function recordAudit(trx: Knex | Knex.Transaction, clock: Clock, e: AuditEvent, options: { when?: boolean } = {}): Promise<void> {
  await insertIf(trx, 'audit_logs', auditRow(clock, e), options.when ?? true);
}

/** An `audit_logs` row as the user's own event list reads it. */
interface AuditRow {
  id: string;
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
 * A user's own security events, newest first, a page at a time with a keyset cursor; a cursor
 * that is not one of ours is a 400 on /query/cursor.
 */
export async function listSecurityEvents(db: Knex, userId: string, page: PageRequest): Promise<SecurityEventList> {
  const query = db('audit_logs').select('id', 'event', 'ip', 'user_agent', 'identifier', 'session_id', 'details', 'created_at').where({ user_id: userId });
  const { items, next_cursor } = await keysetPage<AuditRow>(db, query, page);
  return { items: items.map(toSecurityEvent), next_cursor };
}

/** What an administrator's audit-log query filters on (README "Administration"); every given filter must hold. */
export interface AuditLogFilter {
  actorId?: string;
  userId?: string;
  sessionId?: string;
  event?: string;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
}

/** An `audit_logs` row, every column. */
export interface AuditLogRow extends AuditRow {
  user_id: string | null;
  actor_id: string | null;
}

/**
 * One keyset page of the whole audit log, newest first. Each filter lands on an index ending in
 * (created_at desc, id desc) (the admin migration), so a page costs one index range scan however
 * large the log is.
 */
export async function searchAuditLog(db: Knex, filter: AuditLogFilter, page: PageRequest): Promise<Page<AuditLogRow>> {
  const query = db('audit_logs').select('id', 'event', 'user_id', 'actor_id', 'session_id', 'identifier', 'ip', 'user_agent', 'details', 'created_at');
  if (filter.actorId) query.where({ actor_id: filter.actorId });
  if (filter.userId) query.where({ user_id: filter.userId });
  if (filter.sessionId) query.where({ session_id: filter.sessionId });
  if (filter.event) query.where({ event: filter.event });
  if (filter.from) query.where('created_at', '>=', filter.from);
  if (filter.to) query.where('created_at', '<', filter.to);
  return keysetPage<AuditLogRow>(db, query, page);
}
