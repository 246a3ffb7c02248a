import type { Knex } from 'knex';
import { namesByUser } from '../shared/collections.js';

/** A row of `user_roles`: a role held by a user, maybe until `expires_at`. */
export interface GrantRow {
  user_id: string;
  role_id: string;
  granted_at: Date;
  expires_at: Date | null;
  granted_by: string | null;
}

/** `user_roles`: which roles a user holds. Call syncQuotas after a change (quotas follow roles). */
export const roleGrantsRepo = {
  /**
   * Grants a role by name with no permission checks: for the service's own flows (a new account
   * gets `free`, a guest `guest`). Re-granting replaces the expiry. Call syncQuotas afterwards.
   */
  async grantByName(db: Knex, userId: string, roleName: string, options: { now: Date; expiresAt?: Date | null; grantedBy?: string | null }): Promise<void> {
    const role: { id: string } | undefined = await db('roles').where({ name: roleName }).first('id');
    if (!role) throw new Error(`role ${roleName} is missing from the catalogue`);
    await db('user_roles')
      .insert({ user_id: userId, role_id: role.id, granted_at: options.now, expires_at: options.expiresAt ?? null, granted_by: options.grantedBy ?? null })
      .onConflict(['user_id', 'role_id'])
      .merge(['granted_at', 'expires_at', 'granted_by']);
  },

  async revokeByName(db: Knex, userId: string, roleName: string): Promise<void> {
    await db('user_roles').where({ user_id: userId }).whereIn('role_id', db('roles').where({ name: roleName }).select('id')).delete();
  },

  /** Grants the role, or replaces the existing grant's expiry and grantor. */
  async upsertGrant(db: Knex, grant: GrantRow): Promise<GrantRow> {
    const [row] = await db<GrantRow>('user_roles')
      .insert(grant)
      .onConflict(['user_id', 'role_id'])
      .merge(['granted_at', 'expires_at', 'granted_by'])
      .returning(['user_id', 'role_id', 'granted_at', 'expires_at', 'granted_by']);
    return row as GrantRow;
  },

  /** The user's grant of the role if it is still in force at `now`. */
  async liveGrant(db: Knex, userId: string, roleId: string, now: Date): Promise<GrantRow | undefined> {
    return db<GrantRow>('user_roles')
      .where({ user_id: userId, role_id: roleId })
      .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', now))
      .forUpdate()
      .first(['user_id', 'role_id', 'granted_at', 'expires_at', 'granted_by']);
  },

  async deleteGrant(db: Knex, userId: string, roleId: string): Promise<void> {
    await db('user_roles').where({ user_id: userId, role_id: roleId }).delete();
  },

  /** A subquery of the ids of the users holding the role (by name) at `now`. */
  liveHoldersOf(db: Knex, roleName: string, now: Date): Knex.QueryBuilder {
    return db('user_roles as ur')
      .join('roles as r', 'r.id', 'ur.role_id')
      .where('r.name', roleName)
      .andWhere((q) => q.whereNull('ur.expires_at').orWhere('ur.expires_at', '>', now))
      .select('ur.user_id');
  },

  /** The names of the roles each of these users holds at `now`, highest priority first. */
  async liveRoleNames(db: Knex, userIds: string[], now: Date): Promise<Map<string, string[]>> {
    const rows: Array<{ user_id: string; name: string }> = userIds.length
      ? await db('user_roles as ur')
          .join('roles as r', 'r.id', 'ur.role_id')
          .whereIn('ur.user_id', userIds)
          .andWhere((q) => q.whereNull('ur.expires_at').orWhere('ur.expires_at', '>', now))
          .orderBy([{ column: 'r.priority', order: 'desc' }, { column: 'r.name' }])
          .select('ur.user_id', 'r.name')
      : [];
    return namesByUser(rows);
  },
};

