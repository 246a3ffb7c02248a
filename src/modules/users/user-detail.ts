import type { Knex } from 'knex';
import type { UserDetail, UserRole } from '../../../sdk/src/types.gen.js';
import { effectiveAccess, type HeldRole } from '../../identity/access.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { toUserDto, type UserRecord } from '../../identity/users.repo.js';

export function toUserRole(role: HeldRole): UserRole {
  return { role_id: role.role_id, name: role.name, priority: role.priority, expires_at: role.expires_at ? role.expires_at.toISOString() : null };
}

/** The spec's `UserDetail`: the user, its unexpired roles as of `now`, its plan and metadata. */
export async function userDetail(db: Knex, user: UserRecord, now: Date): Promise<UserDetail> {
  const [actorTypes, access] = await Promise.all([actorTypesRepo.heldBy(db, user.id), effectiveAccess(db, user.id, now)]);
  return {
    ...toUserDto(user, actorTypes.map((a) => a.name)),
    roles: access.roles.map(toUserRole),
    plan: access.plan,
    metadata: user.metadata ?? {},
  };
}
