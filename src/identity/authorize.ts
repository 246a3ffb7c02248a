import type { Knex } from 'knex';
import type { Clock } from '../infra/clock.js';
import { AppError } from '../shared/errors.js';
import { effectiveAccess, holdsPermission, intersectPermissions, type EffectiveAccess } from './access.js';
import { callerOf, type CallerRef } from './caller.js';

/**
 * Live authorization of an administrative action: the caller's current (unexpired) grants,
 * read from PostgreSQL, not the token's claims, so a revoked or expired role stops at once. An
 * API key holds what its own permissions and its owner's current ones have in common.
 */
export async function callerAccess(db: Knex, clock: Clock, caller: CallerRef): Promise<EffectiveAccess> {
  const { userId, apiKey } = callerOf(caller);
  const access = await effectiveAccess(db, userId, clock.now());
  return apiKey ? { ...access, permissions: intersectPermissions(access.permissions, apiKey.permissions) } : access;
}

/** Throws 403 `permission_denied` unless the caller holds `permission`; returns the caller's access. */
export async function requirePermission(db: Knex, clock: Clock, callerId: CallerRef, permission: string): Promise<EffectiveAccess> {
  const access = await callerAccess(db, clock, callerId);
  if (!holdsPermission(access.permissions, permission)) {
    throw new AppError('permission_denied', { detail: `This needs the ${permission} permission.` });
  }
  return access;
}

/**
 * Acting on a user: yourself always; someone else only with `permission`. Without it the
 * answer is 404 `user_not_found`, as for an unknown id, so ids cannot be probed.
 */
export async function requireSelfOr(db: Knex, clock: Clock, callerId: CallerRef, userId: string, permission: string): Promise<void> {
  if (callerOf(callerId).userId === userId) return;
  const access = await callerAccess(db, clock, callerId);
  if (!holdsPermission(access.permissions, permission)) throw new AppError('user_not_found', { detail: 'No such user.' });
}
