import type { EffectiveAccess } from '../../identity/access.js';
import type { ActorTypeRow } from '../../identity/actor-types.repo.js';

/** The permission each administrative operation needs (README "Administration"), from Sésame's own catalogue. */
export const adminPermissions = {
  readUsers: 'sesame:read:users',
  writeUsers: 'sesame:write:users',
  suspendUsers: 'sesame:suspend:users',
  assignActorTypes: 'sesame:assign:actor_types',
  importUsers: 'sesame:import:users',
  impersonateUsers: 'sesame:impersonate:users',
  impersonateAdmins: 'sesame:impersonate:admins',
  readAuditLogs: 'sesame:read:audit_logs',
} as const;

/**
 * An administrator, for the impersonation rules: someone holding any of Sésame's own
 * permissions (`sesame:…`, or a wildcard covering them) or the `admin` actor type.
 */
export function isAdministrator(access: EffectiveAccess, held: ActorTypeRow[]): boolean {
  return held.some((a) => a.name === 'admin') || access.permissions.some((p) => ['sesame', '*'].includes(p.split(':')[0] ?? ''));
}

/** A time in emails and audit details: `2026-12-01 14:30` (UTC). */
export function minuteOf(date: Date): string {
  return date.toISOString().replace('T', ' ').slice(0, 16);
}
