import type { Knex } from 'knex';
import type { Permission, PermissionCreateRequest, PermissionList, Role, RoleCreateRequest, RoleList } from '../../../sdk/src/types.gen.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import { recordAudit } from '../../identity/audit-trail.js';
import type { RequestContext } from '../../shared/request-context.js';
import { requirePermission } from '../../identity/authorize.js';
import { assertNoEscalation } from './escalation.js';
import { rbacRepo, toPermissionDto, toRoleDto, type PermissionRow } from './rbac.repo.js';
import { isUniqueViolation } from '../../infra/pg-errors.js';

/** The permission rows of `names`, or 400 `unknown_permission` naming each unknown one. */
async function knownPermissions(db: Knex, names: string[]): Promise<PermissionRow[]> {
  const rows = await rbacRepo.permissionsByName(db, names);
  const found = new Set(rows.map((r) => r.name));
  const errors = names.flatMap((name, i) => (found.has(name) ? [] : [{ path: `/body/permissions/${i}`, message: `unknown permission ${name}` }]));
  if (errors.length) throw new AppError('unknown_permission', { detail: 'Some permissions do not exist; create them first.', errors });
  return rows;
}

/** The role and permission catalogue: lists for anyone signed in, edits for administrators. */
export class RbacCatalogue {
  private readonly db: Knex;
  private readonly clock: Clock;

  constructor(deps: { db: Knex; clock: Clock }) {
    ({ db: this.db, clock: this.clock } = deps);
  }

  async listPermissions(): Promise<PermissionList> {
    return { items: (await rbacRepo.allPermissions(this.db)).map(toPermissionDto), next_cursor: null };
  }

  async createPermission(callerId: string, body: PermissionCreateRequest, context: RequestContext): Promise<Permission> {
    await requirePermission(this.db, this.clock, callerId, 'sesame:write:permissions');
    const [service, action, resource] = body.name.split(':') as [string, string, string];
    const now = this.clock.now();
    try {
      return await this.db.transaction(async (trx) => {
        const row = await rbacRepo.insertPermission(trx, { service, action, resource, name: body.name, description: body.description ?? null, created_at: now });
        await recordAudit(trx, this.clock, { event: 'permission.created', userId: callerId, context, details: { permission: row.name } });
        return toPermissionDto(row);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('permission_already_exists', { detail: `Permission ${body.name} already exists.` });
      throw err;
    }
  }

  async listRoles(): Promise<RoleList> {
    const [roles, permissions] = await Promise.all([rbacRepo.allRoles(this.db), rbacRepo.permissionNamesByRole(this.db)]);
    return { items: roles.map((r) => toRoleDto(r, permissions.get(r.id) ?? [])), next_cursor: null };
  }

  async createRole(callerId: string, body: RoleCreateRequest, context: RequestContext): Promise<Role> {
    const names = body.permissions ?? [];
    const now = this.clock.now();
    try {
      return await this.db.transaction(async (trx) => {
        const access = await requirePermission(trx, this.clock, callerId, 'sesame:write:roles');
        const permissions = await knownPermissions(trx, names);
        assertNoEscalation(access, { name: body.name, priority: body.priority }, names);
        const role = await rbacRepo.insertRole(trx, { name: body.name, description: body.description ?? null, priority: body.priority, is_system: false, created_at: now, updated_at: now });
        await rbacRepo.addRolePermissions(trx, role.id, permissions.map((p) => p.id), now);
        const held = [...names].sort();
        await recordAudit(trx, this.clock, { event: 'role.created', userId: callerId, context, details: { role: role.name, priority: role.priority, permissions: held } });
        return toRoleDto(role, held);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('role_already_exists', { detail: `Role ${body.name} already exists.` });
      throw err;
    }
  }

  async listRolePermissions(roleId: string): Promise<PermissionList> {
    const role = await rbacRepo.findRole(this.db, roleId);
    if (!role) throw new AppError('role_not_found', { detail: 'No such role.' });
    return { items: (await rbacRepo.rolePermissions(this.db, roleId)).map(toPermissionDto), next_cursor: null };
  }

  /**
   * Replaces the role's permissions. Refused for a role the caller holds (they would be editing
   * their own privileges), one ranking above them, or permissions they do not hold themselves.
   */
  async setRolePermissions(callerId: string, roleId: string, names: string[], context: RequestContext): Promise<PermissionList> {
    const now = this.clock.now();
    return this.db.transaction(async (trx) => {
      const access = await requirePermission(trx, this.clock, callerId, 'sesame:write:roles');
      const role = await rbacRepo.findRole(trx, roleId, { lock: true });
      if (!role) throw new AppError('role_not_found', { detail: 'No such role.' });
      const wanted = await knownPermissions(trx, names);
      if (access.roles.some((r) => r.role_id === role.id)) {
        throw new AppError('privilege_escalation', { detail: `You hold role ${role.name}: nobody can change the permissions of their own role.` });
      }
      assertNoEscalation(access, role, names);
      const current = await rbacRepo.rolePermissions(trx, role.id);
      const wantedIds = new Set(wanted.map((p) => p.id));
      const currentIds = new Set(current.map((p) => p.id));
      const added = wanted.filter((p) => !currentIds.has(p.id));
      const removed = current.filter((p) => !wantedIds.has(p.id));
      if (added.length || removed.length) {
        await rbacRepo.removeRolePermissions(trx, role.id, removed.map((p) => p.id));
        await rbacRepo.addRolePermissions(trx, role.id, added.map((p) => p.id), now);
        await rbacRepo.touchRole(trx, role.id, now);
        const details = { role: role.name, added: added.map((p) => p.name).sort(), removed: removed.map((p) => p.name).sort() };
        await recordAudit(trx, this.clock, { event: 'role.permissions_changed', userId: callerId, context, details });
      }
      return { items: (await rbacRepo.rolePermissions(trx, role.id)).map(toPermissionDto), next_cursor: null };
    });
  }
}
