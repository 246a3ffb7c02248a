import { AppError } from '../../shared/errors.js';
import { holdsPermission, type EffectiveAccess } from '../../identity/access.js';

/** The caller's highest role priority; a caller with no role ranks below every role. */
export function highestPriority(access: EffectiveAccess): number {
  return access.roles.reduce((max, r) => Math.max(max, r.priority), Number.NEGATIVE_INFINITY);
}

/** The permissions of `wanted` the caller's own permissions do not cover. */
export function uncovered(access: EffectiveAccess, wanted: Iterable<string>): string[] {
  return [...wanted].filter((p) => !holdsPermission(access.permissions, p));
}

/**
 * Nobody hands out more than they hold: every permission must be covered by the caller's own
 * and the role may not rank above the caller's highest role (403 `privilege_escalation`).
 */
export function assertNoEscalation(access: EffectiveAccess, role: { name: string; priority: number }, permissions: Iterable<string>): void {
  const missing = uncovered(access, permissions);
  if (missing.length) {
    throw new AppError('privilege_escalation', { detail: `You do not hold every permission of role ${role.name} yourself: ${missing.join(', ')}.` });
  }
  if (role.priority > highestPriority(access)) {
    throw new AppError('privilege_escalation', { detail: `Role ${role.name} ranks above your highest role.` });
  }
}

/** Acting on one's own grants is always refused, even for an administrator (no self-service privileges). */
export function assertNotSelf(callerId: string, userId: string): void {
  if (callerId === userId) throw new AppError('privilege_escalation', { detail: 'Nobody can grant or revoke their own roles.' });
}
