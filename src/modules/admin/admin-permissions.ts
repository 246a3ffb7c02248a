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
  readOrganizations: 'sesame:read:organizations',
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

/**
 * The audit details of an administrator's search: which free-text terms it used (`terms`, never
 * their text: names, emails and phone numbers are personal data), the structured filters with
 * their values, and how many results the page had.
 */
export function searchAuditDetails(query: Record<string, unknown>, termKeys: readonly string[], results: number): Record<string, unknown> {
  const given = Object.entries(query).filter(([key, value]) => value !== undefined && key !== 'cursor' && key !== 'limit');
  return {
    terms: given.filter(([key]) => termKeys.includes(key)).map(([key]) => key),
    filters: Object.fromEntries(given.filter(([key]) => !termKeys.includes(key))),
    results,
  };
}

/** The creation range of a search query (`created_after` inclusive, `created_before` exclusive), as the repositories take it. */
export function createdRange(query: { created_after?: string; created_before?: string }): { createdFrom?: Date; createdBefore?: Date } {
  return {
    createdFrom: query.created_after === undefined ? undefined : new Date(query.created_after),
    createdBefore: query.created_before === undefined ? undefined : new Date(query.created_before),
  };
}
