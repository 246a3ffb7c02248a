import type { Knex } from 'knex';
import type { PermissionCheckRequest, PermissionCheckResult } from '../../../sdk/src/types.gen.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import { usersRepo } from '../../identity/users.repo.js';
import { effectiveAccess, holdsPermission, permissionMatches } from '../../identity/access.js';
import { requirePermission } from '../../identity/authorize.js';
import { callerOf, type CallerRef } from '../../identity/caller.js';
import { orgRolePolicy, type OrgRole } from '../../identity/org-roles.js';
import { organizationsRepo } from '../../identity/organizations.repo.js';
import { rbacRepo } from './rbac.repo.js';

/**
 * May this user do that, now? Read live from the user's unexpired grants (never from a token),
 * so an expired or revoked role stops granting at once. Checking someone else needs
 * `sesame:check:permissions` (403 `permission_denied`: the refusal is about checking). With an
 * organization (named, or the caller's active one), the user's role there counts too, read
 * live: a member removed a second ago is refused (`not_a_member`).
 */
export class PermissionChecks {
  constructor(private readonly deps: { db: Knex; clock: Clock }) {}

  async check(callerRef: CallerRef, body: PermissionCheckRequest): Promise<PermissionCheckResult> {
    const { db, clock } = this.deps;
    const caller = callerOf(callerRef);
    if (body.user_id !== caller.userId) await requirePermission(db, clock, caller, 'sesame:check:permissions');
    const organizationId = body.organization_id ?? caller.organizationId;
    if (caller.apiKey && caller.organizationId && organizationId !== caller.organizationId) {
      throw new AppError('permission_denied', { detail: 'This organization key only checks permissions in its own organization.' });
    }
    const user = await usersRepo.findLiveById(db, body.user_id);
    if (!user) throw new AppError('user_not_found', { detail: 'No such user.' });
    const access = await effectiveAccess(db, user.id, clock.now());
    const pairs = await rbacRepo.rolePermissionPairs(db);
    // Roles come ranked (priority, then name); keep the first occurrence of each.
    const required = [...new Set(pairs.filter((p) => permissionMatches(p.permission, body.permission)).map((p) => p.role))];
    const current = access.roles.map((r) => r.name);
    const orgRole: OrgRole | null = organizationId ? ((await organizationsRepo.findForMember(db, organizationId, user.id))?.membership.role ?? null) : null;
    const inOrganization = organizationId ? { organization_id: organizationId, org_role: orgRole } : {};
    if (user.status === 'suspended') return { allowed: false, reason: 'account_suspended', required, current, ...inOrganization };
    const allowed = holdsPermission(access.permissions, body.permission) || (orgRole !== null && orgRolePolicy.allows(orgRole, body.permission));
    const refusal = organizationId && orgRole === null ? 'not_a_member' : 'insufficient_permissions';
    return { allowed, reason: allowed ? 'granted' : refusal, required, current, ...inOrganization };
  }
}
