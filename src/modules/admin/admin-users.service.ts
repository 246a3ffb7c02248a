import type { Knex } from 'knex';
import type { AdminUserDetail, AdminUserList, AdminUserUpdateRequest, SearchUsersData } from '../../../sdk/src/types.gen.js';
import { holdsPermission } from '../../identity/access.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit, type AuditEventName } from '../../identity/audit-trail.js';
import { callerAccess, requirePermission } from '../../identity/authorize.js';
import { organizationsRepo } from '../../identity/organizations.repo.js';
import { roleGrantsRepo } from '../../identity/role-grants.repo.js';
import type { Sessions } from '../../identity/sessions/sessions.js';
import type { SuspensionHook } from '../../identity/suspension.js';
import { usersRepo, type UserRecord, type UserStatus } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { RequestContext } from '../../shared/request-context.js';
import { adminPermissions, createdRange, searchAuditDetails } from './admin-permissions.js';
import { adminUserDetail, adminUserViews } from './user-view.js';

export type UserSearchQuery = NonNullable<SearchUsersData['query']>;
type Caller = Pick<VerifiedAccessToken, 'sub'>;

export interface AdminUsersDeps {
  db: Knex;
  clock: Clock;
  sessions: Pick<Sessions, 'revoke' | 'transaction'>;
  /** What ends with a suspension, in order (the sessions first). */
  suspensionHooks: SuspensionHook[];
}

const userNotFound = () => new AppError('user_not_found', { detail: 'No such user.' });

/** The permission each field of the PATCH needs. */
const fieldPermissions = {
  status: adminPermissions.suspendUsers,
  actor_types: adminPermissions.assignActorTypes,
  email_verified: adminPermissions.writeUsers,
} as const;

/** The status of a reactivated account: active, unless its email still awaits verification. */
function reactivatedStatus(user: Pick<UserRecord, 'email' | 'email_verified_at'>): UserStatus {
  return user.email && !user.email_verified_at ? 'pending_verification' : 'active';
}

/**
 * Administration of users (README "Administration"): search, read, suspend and reactivate, set
 * actor types, mark an email verified. Each call checks its permission live and writes exactly
 * one audit row naming the administrator.
 */
export class AdminUsers {
  constructor(private readonly deps: AdminUsersDeps) {}

  /** The organization filter (`organization_id`, `org_role`) also needs sesame:read:organizations: it reads who belongs where. */
  async search(caller: Caller, query: UserSearchQuery, page: PageRequest, context: RequestContext): Promise<AdminUserList> {
    const { db, clock } = this.deps;
    const access = await requirePermission(db, clock, caller.sub, adminPermissions.readUsers);
    const byOrganization = query.organization_id !== undefined || query.org_role !== undefined;
    if (byOrganization && !holdsPermission(access.permissions, adminPermissions.readOrganizations)) {
      throw new AppError('permission_denied', { detail: `Searching by organization also needs the ${adminPermissions.readOrganizations} permission.` });
    }
    const now = clock.now();
    const among: Knex.QueryBuilder[] = [];
    if (query.actor_type !== undefined) among.push(actorTypesRepo.holdersOf(db, query.actor_type));
    if (query.role !== undefined) among.push(roleGrantsRepo.liveHoldersOf(db, query.role, now));
    if (byOrganization) among.push(organizationsRepo.memberIdsOf(db, { organizationId: query.organization_id, role: query.org_role }));
    const found = await usersRepo.search(
      db,
      {
        emailPrefix: query.email,
        namePrefix: query.name,
        phonePrefix: query.phone,
        status: query.status,
        isGuest: query.is_guest,
        ...createdRange(query),
        among,
      },
      page,
    );
    const items = await adminUserViews(db, found.items, now);
    await recordAudit(db, clock, { event: 'admin.users_searched', actorId: caller.sub, context, details: searchAuditDetails(query, ['email', 'name', 'phone'], items.length) });
    return { items, next_cursor: found.next_cursor };
  }

  async get(caller: Caller, userId: string, context: RequestContext): Promise<AdminUserDetail> {
    const { db, clock } = this.deps;
    await requirePermission(db, clock, caller.sub, adminPermissions.readUsers);
    const user = await usersRepo.findLiveRecord(db, userId);
    if (!user) throw userNotFound();
    const detail = await adminUserDetail(db, user, clock.now());
    await recordAudit(db, clock, { event: 'admin.user_viewed', userId, actorId: caller.sub, identifier: user.email, context });
    return detail;
  }

  /**
   * Applies the PATCH in one transaction: a suspension ends every credential of the user there
   * (the suspension hooks), so no instance accepts them once it commits.
   */
  async update(caller: Caller, userId: string, patch: AdminUserUpdateRequest, context: RequestContext): Promise<AdminUserDetail> {
    const { db, clock } = this.deps;
    const fields = (Object.keys(fieldPermissions) as Array<keyof typeof fieldPermissions>).filter((f) => patch[f] !== undefined);
    if (!fields.length) {
      throw new AppError('validation_failed', { detail: 'Name at least one change: status, actor_types or email_verified.', errors: [{ path: '/body', message: 'must have status, actor_types or email_verified' }] });
    }
    const access = await callerAccess(db, clock, caller.sub);
    for (const field of fields) {
      if (!holdsPermission(access.permissions, fieldPermissions[field])) throw new AppError('permission_denied', { detail: `Changing ${field} needs the ${fieldPermissions[field]} permission.` });
    }
    if (caller.sub === userId) throw new AppError('privilege_escalation', { detail: 'Nobody changes their own status or actor types: ask another administrator.' });
    if (patch.actor_types) await this.assertActorTypesExist(patch.actor_types);

    const now = clock.now();
    // Revocations of the suspension are published once the transaction commits, before this answers.
    const user = await this.deps.sessions.transaction(async (trx) => {
      const current = await usersRepo.findLiveRecord(trx, userId, { lock: true });
      if (!current) throw userNotFound();
      const changes: Partial<UserRecord> = {};
      const details: Record<string, unknown> = { fields, ...(patch.reason !== undefined ? { reason: patch.reason } : {}) };
      let event: AuditEventName = 'user.updated';

      if (patch.email_verified && !current.email_verified_at) {
        changes.email_verified_at = now;
        if (current.status === 'pending_verification') changes.status = 'active';
      }
      if (patch.actor_types) details.actor_types = await this.replaceActorTypes(trx, userId, patch.actor_types);
      if (patch.status === 'suspended' && current.status !== 'suspended') {
        changes.status = 'suspended';
        event = 'user.suspended';
        const revoked: Record<string, number> = {};
        for (const hook of this.deps.suspensionHooks) revoked[hook.name] = await hook.suspended(trx, userId);
        details.revoked = revoked;
      } else if (patch.status === 'active' && current.status === 'suspended') {
        changes.status = reactivatedStatus({ ...current, ...changes });
        event = 'user.reactivated';
      }
      if (changes.status) details.status = { from: current.status, to: changes.status };

      const updated = Object.keys(changes).length || patch.actor_types ? await usersRepo.updateRecord(trx, userId, { ...changes, updated_at: now }) : current;
      await recordAudit(trx, clock, { event, userId, actorId: caller.sub, identifier: current.email, context, details });
      return updated;
    });
    return adminUserDetail(db, user, now);
  }

  private async assertActorTypesExist(names: string[]): Promise<void> {
    const known = await actorTypesRepo.existing(this.deps.db, names);
    const unknown = names.map((name, i) => ({ name, i })).filter(({ name }) => !known.has(name));
    if (unknown.length) {
      throw new AppError('actor_type_not_allowed', {
        detail: `No such actor type: ${unknown.map((u) => u.name).join(', ')}.`,
        errors: unknown.map(({ i }) => ({ path: `/body/actor_types/${i}`, message: 'is not an actor type' })),
      });
    }
  }

  /** The user holds exactly `names` from now on; sessions acting as a type taken away end at once. */
  private async replaceActorTypes(trx: Knex.Transaction, userId: string, names: string[]): Promise<{ added: string[]; removed: string[]; revoked_sessions: number }> {
    const held = (await actorTypesRepo.heldBy(trx, userId)).map((a) => a.name);
    const added = names.filter((n) => !held.includes(n));
    const removed = held.filter((n) => !names.includes(n));
    for (const name of added) await actorTypesRepo.grant(trx, userId, name);
    for (const name of removed) await actorTypesRepo.remove(trx, userId, name);
    const revoked = removed.length ? await this.deps.sessions.revoke({ userId, actorTypes: removed }, 'actor_type_removed', trx) : [];
    return { added, removed, revoked_sessions: revoked.length };
  }
}
