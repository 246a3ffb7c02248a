import type { Knex } from 'knex';
import type { PermissionCheckRequest, PermissionCheckResult } from '../../../sdk/src/types.gen.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import { usersRepo } from '../../identity/users.repo.js';
import { effectiveAccess, holdsPermission, permissionMatches } from '../../identity/access.js';
import { requirePermission } from '../../identity/authorize.js';
import { rbacRepo } from './rbac.repo.js';

/**
 * May this user do that, now? Read live from the user's unexpired grants (never from a token),
 * so an expired or revoked role stops granting at once. Checking someone else needs
 * `sesame:check:permissions` (403 `permission_denied`: the refusal is about checking).
 */
export class PermissionChecks {
  constructor(private readonly deps: { db: Knex; clock: Clock }) {}

  async check(callerId: string, body: PermissionCheckRequest): Promise<PermissionCheckResult> {
    const { db, clock } = this.deps;
    if (body.user_id !== callerId) await requirePermission(db, clock, callerId, 'sesame:check:permissions');
    const user = await usersRepo.findLiveById(db, body.user_id);
    if (!user) throw new AppError('user_not_found', { detail: 'No such user.' });
    const access = await effectiveAccess(db, user.id, clock.now());
    const pairs = await rbacRepo.rolePermissionPairs(db);
    // Roles come ranked (priority, then name); keep the first occurrence of each.
    const required = [...new Set(pairs.filter((p) => permissionMatches(p.permission, body.permission)).map((p) => p.role))];
    const current = access.roles.map((r) => r.name);
    if (user.status === 'suspended') return { allowed: false, reason: 'account_suspended', required, current };
    const allowed = holdsPermission(access.permissions, body.permission);
    return { allowed, reason: allowed ? 'granted' : 'insufficient_permissions', required, current };
  }
}
