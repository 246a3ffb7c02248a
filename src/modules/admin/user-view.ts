import type { Knex } from 'knex';
import type { AdminUser, AdminUserDetail } from '../../../sdk/src/types.gen.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { roleGrantsRepo } from '../../identity/role-grants.repo.js';
import { sessionsRepo } from '../../identity/sessions/sessions.repo.js';
import { toUserDto, type UserRow } from '../../identity/users.repo.js';

/** Users as the admin API shows them (the spec's `AdminUser`): two batch reads for a whole page. */
export async function adminUserViews(db: Knex, users: UserRow[], now: Date): Promise<AdminUser[]> {
  const ids = users.map((u) => u.id);
  const [actorTypes, roles] = await Promise.all([actorTypesRepo.namesHeldBy(db, ids), roleGrantsRepo.liveRoleNames(db, ids, now)]);
  return users.map((u) => ({ ...toUserDto(u, actorTypes.get(u.id) ?? []), roles: roles.get(u.id) ?? [] }));
}

/** One user with its count of live sessions (the spec's `AdminUserDetail`). */
export async function adminUserDetail(db: Knex, user: UserRow, now: Date): Promise<AdminUserDetail> {
  const [[view], live] = await Promise.all([adminUserViews(db, [user], now), sessionsRepo.liveCount(db, user.id, now)]);
  return { ...view!, live_sessions: live };
}
