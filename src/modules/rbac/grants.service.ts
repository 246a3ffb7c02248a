import type { Knex } from 'knex';
import type { RoleGrant, RoleGrantRequest } from '../../../sdk/src/types.gen.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import { recordAudit } from '../../identity/audit-trail.js';
import type { RequestContext } from '../../shared/request-context.js';
import { roleGrantsRepo } from '../../identity/role-grants.repo.js';
import { syncQuotas } from '../../identity/user-quotas.repo.js';
import { requirePermission } from '../../identity/authorize.js';
import { assertNoEscalation, assertNotSelf } from './escalation.js';
import { rbacRepo, toGrantDto, type RoleRow } from './rbac.repo.js';
import { usersRepo } from '../../identity/users.repo.js';

/** Role grants and revocations by an administrator, under the no-escalation rules. */
export class RoleGrants {
  private readonly db: Knex;
  private readonly clock: Clock;

  constructor(deps: { db: Knex; clock: Clock }) {
    ({ db: this.db, clock: this.clock } = deps);
  }

  /** Grants (or re-grants, replacing the expiry) a role to another user; their quotas follow. */
  async grant(callerId: string, userId: string, body: RoleGrantRequest, context: RequestContext): Promise<RoleGrant> {
    assertNotSelf(callerId, userId);
    const now = this.clock.now();
    const expiresAt = body.expires_at === undefined ? null : new Date(body.expires_at);
    if (expiresAt && expiresAt.getTime() <= now.getTime()) {
      throw new AppError('validation_failed', { detail: 'A grant must end in the future.', errors: [{ path: '/body/expires_at', message: 'must be in the future' }] });
    }
    return this.db.transaction(async (trx) => {
      const role = await this.authorizedRole(trx, callerId, userId, body.role_id);
      const grant = await roleGrantsRepo.upsertGrant(trx, { user_id: userId, role_id: role.id, granted_at: now, expires_at: expiresAt, granted_by: callerId });
      await syncQuotas(trx, userId, now);
      await recordAudit(trx, this.clock, { event: 'role.granted', userId, actorId: callerId, context, details: { role: role.name, expires_at: expiresAt?.toISOString() ?? null } });
      return toGrantDto(grant, role.name);
    });
  }

  /** Takes a role, held now, away from another user; their quotas follow. */
  async revoke(callerId: string, userId: string, roleId: string, context: RequestContext): Promise<void> {
    assertNotSelf(callerId, userId);
    const now = this.clock.now();
    await this.db.transaction(async (trx) => {
      const role = await this.authorizedRole(trx, callerId, userId, roleId);
      const grant = await roleGrantsRepo.liveGrant(trx, userId, role.id, now);
      if (!grant) throw new AppError('role_not_granted', { detail: `The user does not hold role ${role.name}.` });
      await roleGrantsRepo.deleteGrant(trx, userId, role.id);
      await syncQuotas(trx, userId, now);
      await recordAudit(trx, this.clock, { event: 'role.revoked', userId, actorId: callerId, context, details: { role: role.name, expires_at: grant.expires_at?.toISOString() ?? null } });
    });
  }

  /**
   * The role, once the caller may manage it for this user: `sesame:grant:roles`, a known role, a
   * live user (locked, so grants and quota syncs of one user serialise), and no escalation.
   */
  private async authorizedRole(trx: Knex.Transaction, callerId: string, userId: string, roleId: string): Promise<RoleRow> {
    const access = await requirePermission(trx, this.clock, callerId, 'sesame:grant:roles');
    const role = await rbacRepo.findRole(trx, roleId);
    if (!role) throw new AppError('role_not_found', { detail: 'No such role.' });
    const user = await usersRepo.findLiveRecord(trx, userId, { lock: true });
    if (!user) throw new AppError('user_not_found', { detail: 'No such user.' });
    const permissions = (await rbacRepo.permissionNamesByRole(trx, [role.id])).get(role.id) ?? [];
    assertNoEscalation(access, role, permissions);
    return role;
  }
}
