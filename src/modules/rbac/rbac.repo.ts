import type { Knex } from 'knex';
import type { Permission, Role, RoleGrant } from '../../../sdk/src/types.gen.js';
import type { GrantRow } from '../../identity/role-grants.repo.js';

export interface PermissionRow {
  id: string;
  service: string;
  action: string;
  resource: string;
  name: string;
  description: string | null;
  created_at: Date;
}

export interface RoleRow {
  id: string;
  name: string;
  description: string | null;
  priority: number;
  is_system: boolean;
  created_at: Date;
  updated_at: Date;
}

/** PostgreSQL's unique_violation: a concurrent or repeated insert of a name that is taken. */
export function toPermissionDto(row: PermissionRow): Permission {
  return {
    id: row.id,
    name: row.name,
    service: row.service,
    action: row.action,
    resource: row.resource,
    description: row.description,
    created_at: row.created_at.toISOString(),
  };
}

export function toRoleDto(row: RoleRow, permissions: string[]): Role {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    priority: row.priority,
    is_system: row.is_system,
    permissions,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toGrantDto(row: GrantRow, roleName: string): RoleGrant {
  return {
    user_id: row.user_id,
    role_id: row.role_id,
    role: roleName,
    granted_at: row.granted_at.toISOString(),
    expires_at: row.expires_at ? row.expires_at.toISOString() : null,
    granted_by: row.granted_by,
  };
}

const permissionColumns = ['id', 'service', 'action', 'resource', 'name', 'description', 'created_at'];
const roleColumns = ['id', 'name', 'description', 'priority', 'is_system', 'created_at', 'updated_at'];
/** Roles rank by priority (highest first), then name, wherever they are listed. */
const roleOrder = [{ column: 'priority', order: 'desc' as const }, { column: 'name' }];

/** Reads and writes of the role and permission catalogue and of role grants. */
export const rbacRepo = {
  async allPermissions(db: Knex): Promise<PermissionRow[]> {
    return db<PermissionRow>('permissions').orderBy('name').select(permissionColumns);
  },

  async permissionsByName(db: Knex, names: string[]): Promise<PermissionRow[]> {
    if (!names.length) return [];
    return db<PermissionRow>('permissions').whereIn('name', names).select(permissionColumns);
  },

  async insertPermission(db: Knex, row: Omit<PermissionRow, 'id'>): Promise<PermissionRow> {
    const [created] = await db<PermissionRow>('permissions').insert(row).returning(permissionColumns);
    return created as PermissionRow;
  },

  async allRoles(db: Knex): Promise<RoleRow[]> {
    return db<RoleRow>('roles').orderBy(roleOrder).select(roleColumns);
  },

  async findRole(db: Knex, id: string, options: { lock?: boolean } = {}): Promise<RoleRow | undefined> {
    const q = db<RoleRow>('roles').where({ id });
    const row: RoleRow | undefined = await (options.lock ? q.forUpdate() : q).first(roleColumns);
    return row;
  },

  async insertRole(db: Knex, row: Omit<RoleRow, 'id'>): Promise<RoleRow> {
    const [created] = await db<RoleRow>('roles').insert(row).returning(roleColumns);
    return created as RoleRow;
  },

  async touchRole(db: Knex, id: string, now: Date): Promise<RoleRow> {
    const [row] = await db<RoleRow>('roles').where({ id }).update({ updated_at: now }).returning(roleColumns);
    return row as RoleRow;
  },

  /** The permissions each role holds, by role id (names, sorted). */
  async permissionNamesByRole(db: Knex, roleIds?: string[]): Promise<Map<string, string[]>> {
    const q = db('role_permissions as rp').join('permissions as p', 'p.id', 'rp.permission_id').orderBy('p.name').select('rp.role_id', 'p.name');
    if (roleIds) q.whereIn('rp.role_id', roleIds);
    const rows: Array<{ role_id: string; name: string }> = await q;
    const byRole = new Map<string, string[]>();
    for (const row of rows) byRole.set(row.role_id, [...(byRole.get(row.role_id) ?? []), row.name]);
    return byRole;
  },

  async rolePermissions(db: Knex, roleId: string): Promise<PermissionRow[]> {
    return db<PermissionRow>('permissions as p')
      .join('role_permissions as rp', 'rp.permission_id', 'p.id')
      .where('rp.role_id', roleId)
      .orderBy('p.name')
      .select(permissionColumns.map((c) => `p.${c}`));
  },

  async addRolePermissions(db: Knex, roleId: string, permissionIds: string[], now: Date): Promise<void> {
    if (!permissionIds.length) return;
    await db('role_permissions')
      .insert(permissionIds.map((id) => ({ role_id: roleId, permission_id: id, granted_at: now })))
      .onConflict(['role_id', 'permission_id'])
      .ignore();
  },

  async removeRolePermissions(db: Knex, roleId: string, permissionIds: string[]): Promise<void> {
    if (!permissionIds.length) return;
    await db('role_permissions').where({ role_id: roleId }).whereIn('permission_id', permissionIds).delete();
  },

  /** Every (role, permission) pair of the catalogue, roles ranked: for "which roles would grant this". */
  async rolePermissionPairs(db: Knex): Promise<Array<{ role: string; permission: string }>> {
    return db('roles as r')
      .join('role_permissions as rp', 'rp.role_id', 'r.id')
      .join('permissions as p', 'p.id', 'rp.permission_id')
      .orderBy([{ column: 'r.priority', order: 'desc' }, { column: 'r.name' }])
      .select('r.name as role', 'p.name as permission');
  },
};
