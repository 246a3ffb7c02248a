import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser } from '../../helpers/flows.js';
import type { AuditRow } from '../../helpers/probes.js';
import { adminUser, grantRoleDirectly, userWithRole } from '../../helpers/rbac.js';

type User = Awaited<ReturnType<typeof loggedInUser>>;

describe('roles, permissions and role grants', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const tokenOf = (u: User) => u.session.access_token;
  const unique = () => randomUUID().replace(/-/g, '').slice(0, 20);
  /** A fresh permission name nobody else uses (its service part is unique). */
  const freshPermissionName = () => `t${unique()}:read:things`;
  const freshRoleName = () => `role-${unique()}`;

  const listRoles = (token: string) => sdk.listRoles({ client: app.client, auth: token });
  const createRole = (token: string, body: sdk.RoleCreateRequest) => sdk.createRole({ client: app.client, auth: token, body });
  const createPermission = (token: string, body: sdk.PermissionCreateRequest) => sdk.createPermission({ client: app.client, auth: token, body });
  const rolePermissions = (token: string, roleId: string) => sdk.listRolePermissions({ client: app.client, auth: token, path: { role_id: roleId } });
  const setRolePermissions = (token: string, roleId: string, permissions: string[]) =>
    sdk.setRolePermissions({ client: app.client, auth: token, path: { role_id: roleId }, body: { permissions } });
  const grant = (token: string, userId: string, body: sdk.RoleGrantRequest) => sdk.grantRole({ client: app.client, auth: token, path: { user_id: userId }, body });
  const revoke = (token: string, userId: string, roleId: string) => sdk.revokeRole({ client: app.client, auth: token, path: { user_id: userId, role_id: roleId } });

  async function roleIdOf(name: string): Promise<string> {
    const row: { id: string } | undefined = await app.db('roles').where({ name }).first('id');
    expect(row, `role ${name}`).to.not.equal(undefined);
    return row!.id;
  }

  async function heldRoles(userId: string): Promise<Array<{ name: string; expires_at: Date | null; granted_by: string | null }>> {
    return app.db('user_roles as ur').join('roles as r', 'r.id', 'ur.role_id').where('ur.user_id', userId).orderBy('r.name').select('r.name', 'ur.expires_at', 'ur.granted_by');
  }

  const auditRows = (where: Record<string, unknown>): Promise<Array<AuditRow & { actor_id: string | null }>> => app.db('audit_logs').where(where).orderBy('created_at');

  /** An admin creates a role through the API (the admin holds `*:*:*`, so any permission is covered). */
  async function roleViaApi(admin: User, permissions: string[], priority = 20): Promise<sdk.Role> {
    const { data, error } = await createRole(tokenOf(admin), { name: freshRoleName(), priority, permissions });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return data!;
  }

  /** A user who, besides `free`, holds only a custom role carrying `permissions` at `priority`. */
  async function userWithCustomRole(admin: User, permissions: string[], priority: number): Promise<{ user: User; role: sdk.Role }> {
    const role = await roleViaApi(admin, permissions, priority);
    const user = await loggedInUser(app);
    await grantRoleDirectly(app, user.user.id, role.name);
    return { user, role };
  }

  describe('catalogue', () => {
    it('lists every permission, the product’s and the service’s own, in one page', async () => {
      const user = await loggedInUser(app);
      const { data, error } = await sdk.listPermissions({ client: app.client, auth: tokenOf(user) });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(data!.next_cursor).to.equal(null);
      const byName = new Map(data!.items.map((p) => [p.name, p]));
      for (const name of ['quiz:play:free', 'quiz:play:premium', 'quiz:create:own', 'subscription:view:plans', 'subscription:purchase:*', 'ads:skip:interstitial', '*:*:*', 'sesame:grant:roles', 'sesame:check:permissions']) {
        expect(byName.has(name), name).to.equal(true);
      }
      expect(byName.get('subscription:purchase:*')).to.include({ service: 'subscription', action: 'purchase', resource: '*' });
    });

    it('lists the roles highest priority first, each with its permissions', async () => {
      const user = await loggedInUser(app);
      const { data, error } = await listRoles(tokenOf(user));
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(data!.next_cursor).to.equal(null);
      const items = data!.items;
      for (let i = 1; i < items.length; i++) {
        const [a, b] = [items[i - 1]!, items[i]!];
        expect(a.priority > b.priority || (a.priority === b.priority && a.name.localeCompare(b.name) <= 0), `${a.name} before ${b.name}`).to.equal(true);
      }
      const seeded = items.filter((r) => ['admin', 'premium', 'free', 'guest'].includes(r.name));
      expect(seeded.map((r) => [r.name, r.priority, r.is_system])).to.deep.equal([
        ['admin', 100, true],
        ['premium', 50, true],
        ['free', 10, true],
        ['guest', 0, true],
      ]);
      expect(seeded[0]!.permissions).to.deep.equal(['*:*:*']);
      expect(seeded[2]!.permissions).to.deep.equal(['quiz:play:free']);
      expect(seeded[1]!.permissions).to.include.members(['quiz:play:premium', 'subscription:purchase:*', 'ads:skip:interstitial']);
    });

    it('lists one role’s permissions, and 404 role_not_found for an unknown role', async () => {
      const user = await loggedInUser(app);
      const { data } = await rolePermissions(tokenOf(user), await roleIdOf('free'));
      expect(data!.items.map((p) => p.name)).to.deep.equal(['quiz:play:free']);
      expect(data!.next_cursor).to.equal(null);
      expectProblem(await rolePermissions(tokenOf(user), randomUUID()), 404, 'role_not_found');
    });

    it('needs a signed-in caller', async () => {
      expectProblem(await sdk.listRoles({ client: app.client }), 401, 'authentication_required');
      expectProblem(await sdk.listPermissions({ client: app.client }), 401, 'authentication_required');
    });
  });

  describe('createPermission', () => {
    it('creates a permission from its parts and audits it', async () => {
      const admin = await adminUser(app);
      const name = freshPermissionName();
      const { data, error, response } = await createPermission(tokenOf(admin), { name, description: 'Read things' });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(response?.status).to.equal(201);
      expect(data).to.include({ name, service: name.split(':')[0], action: 'read', resource: 'things', description: 'Read things' });
      const listed = await sdk.listPermissions({ client: app.client, auth: tokenOf(admin) });
      expect(listed.data!.items.map((p) => p.name)).to.include(name);
      const rows = await auditRows({ event: 'permission.created', user_id: admin.user.id });
      expect(rows.map((r) => r.details)).to.deep.equal([{ permission: name }]);
    });

    it('409 permission_already_exists for a taken name (never a 500)', async () => {
      const admin = await adminUser(app);
      expectProblem(await createPermission(tokenOf(admin), { name: 'quiz:play:premium' }), 409, 'permission_already_exists');
      const name = freshPermissionName();
      expect((await createPermission(tokenOf(admin), { name })).response?.status).to.equal(201);
      expectProblem(await createPermission(tokenOf(admin), { name }), 409, 'permission_already_exists');
      expect(await auditRows({ event: 'permission.created', user_id: admin.user.id })).to.have.length(1);
    });

    it('403 permission_denied without sesame:write:permissions', async () => {
      const user = await loggedInUser(app);
      const name = freshPermissionName();
      expectProblem(await createPermission(tokenOf(user), { name }), 403, 'permission_denied');
      expect(await app.db('permissions').where({ name })).to.deep.equal([]);
    });

    it('400 validation_failed for a malformed name', async () => {
      const admin = await adminUser(app);
      expectProblem(await createPermission(tokenOf(admin), { name: 'quiz:play' }), 400, 'validation_failed');
      expectProblem(await createPermission(tokenOf(admin), { name: 'Quiz:Play:Premium' }), 400, 'validation_failed');
    });
  });

  describe('createRole', () => {
    it('creates a role with its permissions and audits it', async () => {
      const admin = await adminUser(app);
      const name = freshRoleName();
      const { data, error, response } = await createRole(tokenOf(admin), { name, description: 'Editors', priority: 30, permissions: ['quiz:create:own', 'quiz:play:free'] });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(response?.status).to.equal(201);
      expect(data).to.include({ name, description: 'Editors', priority: 30, is_system: false });
      expect(data!.permissions).to.deep.equal(['quiz:create:own', 'quiz:play:free']);
      const listed = await rolePermissions(tokenOf(admin), data!.id);
      expect(listed.data!.items.map((p) => p.name)).to.deep.equal(['quiz:create:own', 'quiz:play:free']);
      const rows = await auditRows({ event: 'role.created', user_id: admin.user.id });
      expect(rows).to.have.length(1);
      expect(rows[0]!.details).to.include({ role: name, priority: 30 });
    });

    it('409 role_already_exists for a taken name', async () => {
      const admin = await adminUser(app);
      expectProblem(await createRole(tokenOf(admin), { name: 'premium', priority: 1 }), 409, 'role_already_exists');
      const role = await roleViaApi(admin, []);
      expectProblem(await createRole(tokenOf(admin), { name: role.name, priority: 1 }), 409, 'role_already_exists');
    });

    it('400 unknown_permission naming each unknown permission; nothing is created', async () => {
      const admin = await adminUser(app);
      const name = freshRoleName();
      const [ghostA, ghostB] = [freshPermissionName(), freshPermissionName()];
      const problem = expectProblem(await createRole(tokenOf(admin), { name, priority: 5, permissions: ['quiz:play:free', ghostA, ghostB] }), 400, 'unknown_permission');
      expect(problem.errors).to.deep.equal([
        { path: '/body/permissions/1', message: `unknown permission ${ghostA}` },
        { path: '/body/permissions/2', message: `unknown permission ${ghostB}` },
      ]);
      expect(await app.db('roles').where({ name })).to.deep.equal([]);
    });

    it('403 permission_denied without sesame:write:roles', async () => {
      const user = await loggedInUser(app);
      const name = freshRoleName();
      expectProblem(await createRole(tokenOf(user), { name, priority: 0 }), 403, 'permission_denied');
      expect(await app.db('roles').where({ name })).to.deep.equal([]);
    });

    it('403 privilege_escalation for a permission the caller lacks or a priority above theirs', async () => {
      const admin = await adminUser(app);
      const { user: writer } = await userWithCustomRole(admin, ['sesame:write:roles'], 40);
      const [a, b, c] = [freshRoleName(), freshRoleName(), freshRoleName()];
      expectProblem(await createRole(tokenOf(writer), { name: a, priority: 10, permissions: ['quiz:play:premium'] }), 403, 'privilege_escalation');
      expectProblem(await createRole(tokenOf(writer), { name: b, priority: 41, permissions: ['quiz:play:free'] }), 403, 'privilege_escalation');
      expect(await app.db('roles').whereIn('name', [a, b])).to.deep.equal([]);
      // Within what they hold (free’s quiz:play:free, their own sesame:write:roles) and rank, it works.
      const ok = await createRole(tokenOf(writer), { name: c, priority: 40, permissions: ['quiz:play:free', 'sesame:write:roles'] });
      expect(ok.response?.status, JSON.stringify(ok.error)).to.equal(201);
    });
  });

  describe('setRolePermissions', () => {
    it('replaces the permissions and audits what was added and removed', async () => {
      const admin = await adminUser(app);
      const role = await roleViaApi(admin, ['quiz:play:free', 'quiz:create:own']);
      const { data, error } = await setRolePermissions(tokenOf(admin), role.id, ['quiz:create:own', 'subscription:view:plans']);
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(data!.items.map((p) => p.name)).to.deep.equal(['quiz:create:own', 'subscription:view:plans']);
      const rows = await auditRows({ event: 'role.permissions_changed', user_id: admin.user.id });
      expect(rows.map((r) => r.details)).to.deep.equal([{ role: role.name, added: ['subscription:view:plans'], removed: ['quiz:play:free'] }]);
      const listed = await listRoles(tokenOf(admin));
      expect(listed.data!.items.find((r) => r.id === role.id)!.permissions).to.deep.equal(['quiz:create:own', 'subscription:view:plans']);
    });

    it('404 role_not_found and 400 unknown_permission', async () => {
      const admin = await adminUser(app);
      expectProblem(await setRolePermissions(tokenOf(admin), randomUUID(), []), 404, 'role_not_found');
      const role = await roleViaApi(admin, ['quiz:play:free']);
      const ghost = freshPermissionName();
      const problem = expectProblem(await setRolePermissions(tokenOf(admin), role.id, [ghost]), 400, 'unknown_permission');
      expect(problem.errors).to.deep.equal([{ path: '/body/permissions/0', message: `unknown permission ${ghost}` }]);
      expect((await rolePermissions(tokenOf(admin), role.id)).data!.items.map((p) => p.name)).to.deep.equal(['quiz:play:free']);
    });

    it('403 permission_denied without sesame:write:roles', async () => {
      const admin = await adminUser(app);
      const role = await roleViaApi(admin, ['quiz:play:free']);
      const user = await loggedInUser(app);
      expectProblem(await setRolePermissions(tokenOf(user), role.id, []), 403, 'permission_denied');
      expect((await rolePermissions(tokenOf(admin), role.id)).data!.items.map((p) => p.name)).to.deep.equal(['quiz:play:free']);
    });

    it('403 privilege_escalation on a role the caller holds, even for an admin', async () => {
      const admin = await adminUser(app);
      expectProblem(await setRolePermissions(tokenOf(admin), await roleIdOf('admin'), ['*:*:*', 'quiz:play:free']), 403, 'privilege_escalation');
      // Registration gave the admin `free` too.
      expectProblem(await setRolePermissions(tokenOf(admin), await roleIdOf('free'), ['quiz:play:premium']), 403, 'privilege_escalation');
      expect((await rolePermissions(tokenOf(admin), await roleIdOf('free'))).data!.items.map((p) => p.name)).to.deep.equal(['quiz:play:free']);
      expect(await auditRows({ event: 'role.permissions_changed', user_id: admin.user.id })).to.deep.equal([]);
    });

    it('403 privilege_escalation for a permission the caller lacks or a role ranking above them', async () => {
      const admin = await adminUser(app);
      const { user: writer } = await userWithCustomRole(admin, ['sesame:write:roles'], 40);
      const low = await roleViaApi(admin, [], 30);
      const high = await roleViaApi(admin, [], 45);
      expectProblem(await setRolePermissions(tokenOf(writer), low.id, ['quiz:play:premium']), 403, 'privilege_escalation');
      expectProblem(await setRolePermissions(tokenOf(writer), high.id, ['quiz:play:free']), 403, 'privilege_escalation');
      expectProblem(await setRolePermissions(tokenOf(writer), await roleIdOf('admin'), []), 403, 'privilege_escalation');
      expect((await rolePermissions(tokenOf(admin), await roleIdOf('admin'))).data!.items.map((p) => p.name)).to.deep.equal(['*:*:*']);
      const ok = await setRolePermissions(tokenOf(writer), low.id, ['quiz:play:free']);
      expect(ok.data!.items.map((p) => p.name), JSON.stringify(ok.error)).to.deep.equal(['quiz:play:free']);
    });
  });

  describe('grantRole and revokeRole', () => {
    it('grants a role, records the grantor, syncs the quotas and audits it; revoking undoes it', async () => {
      const admin = await adminUser(app);
      const target = await loggedInUser(app);
      const premiumId = await roleIdOf('premium');
      const { data, error, response } = await grant(tokenOf(admin), target.user.id, { role_id: premiumId });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(response?.status).to.equal(201);
      expect(data).to.deep.include({ user_id: target.user.id, role_id: premiumId, role: 'premium', expires_at: null, granted_by: admin.user.id });
      expect(data!.granted_at).to.equal(app.clock.now().toISOString());
      expect((await heldRoles(target.user.id)).map((r) => r.name)).to.deep.equal(['free', 'premium']);
      const quota = await app.db('user_quotas').where({ user_id: target.user.id, quota_type: 'quiz_plays' }).first();
      expect(quota).to.include({ max_allowed: 1000, period_type: 'daily' });
      const granted = await auditRows({ event: 'role.granted', user_id: target.user.id });
      expect(granted.map((r) => [r.actor_id, r.details])).to.deep.equal([[admin.user.id, { role: 'premium', expires_at: null }]]);

      const out = await revoke(tokenOf(admin), target.user.id, premiumId);
      expect(out.response?.status, JSON.stringify(out.error)).to.equal(204);
      expect((await heldRoles(target.user.id)).map((r) => r.name)).to.deep.equal(['free']);
      const after = await app.db('user_quotas').where({ user_id: target.user.id, quota_type: 'quiz_plays' }).first();
      expect(after).to.include({ max_allowed: 20 });
      const revoked = await auditRows({ event: 'role.revoked', user_id: target.user.id });
      expect(revoked.map((r) => [r.actor_id, r.details])).to.deep.equal([[admin.user.id, { role: 'premium', expires_at: null }]]);
    });

    it('re-granting replaces the expiry', async () => {
      const admin = await adminUser(app);
      const target = await loggedInUser(app);
      const premiumId = await roleIdOf('premium');
      const until = new Date(app.clock.now().getTime() + 7 * 86400_000).toISOString();
      const first = await grant(tokenOf(admin), target.user.id, { role_id: premiumId, expires_at: until });
      expect(first.data!.expires_at).to.equal(until);
      app.clock.advance(1000); // audit rows are ordered by time
      const later = new Date(app.clock.now().getTime() + 30 * 86400_000).toISOString();
      const second = await grant(tokenOf(admin), target.user.id, { role_id: premiumId, expires_at: later });
      expect(second.response?.status).to.equal(201);
      expect(second.data!.expires_at).to.equal(later);
      app.clock.advance(1000);
      const lasting = await grant(tokenOf(admin), target.user.id, { role_id: premiumId });
      expect(lasting.data!.expires_at).to.equal(null);
      const premium = (await heldRoles(target.user.id)).filter((r) => r.name === 'premium');
      expect(premium).to.have.length(1);
      expect(premium[0]!.expires_at).to.equal(null);
      const audited = await auditRows({ event: 'role.granted', user_id: target.user.id });
      expect(audited.map((r) => r.details.expires_at)).to.deep.equal([until, later, null]);
    });

    it('400 validation_failed for an expiry that is not in the future; nothing is written', async () => {
      const admin = await adminUser(app);
      const target = await loggedInUser(app);
      const premiumId = await roleIdOf('premium');
      for (const at of [app.clock.now(), new Date(app.clock.now().getTime() - 1000)]) {
        const problem = expectProblem(await grant(tokenOf(admin), target.user.id, { role_id: premiumId, expires_at: at.toISOString() }), 400, 'validation_failed');
        expect(problem.errors!.map((e) => e.path)).to.deep.equal(['/body/expires_at']);
      }
      expect((await heldRoles(target.user.id)).map((r) => r.name)).to.deep.equal(['free']);
    });

    it('nobody can grant or revoke their own roles, not even an admin: 403 privilege_escalation, nothing written', async () => {
      const admin = await adminUser(app);
      const plain = await loggedInUser(app);
      const premiumId = await roleIdOf('premium');
      for (const who of [admin, plain]) {
        const before = await heldRoles(who.user.id);
        expectProblem(await grant(tokenOf(who), who.user.id, { role_id: premiumId }), 403, 'privilege_escalation');
        expectProblem(await grant(tokenOf(who), who.user.id, { role_id: await roleIdOf('admin') }), 403, 'privilege_escalation');
        expectProblem(await revoke(tokenOf(who), who.user.id, await roleIdOf('free')), 403, 'privilege_escalation');
        expect(await heldRoles(who.user.id)).to.deep.equal(before);
        expect(await auditRows({ event: 'role.granted', user_id: who.user.id })).to.deep.equal([]);
        expect(await auditRows({ event: 'role.revoked', user_id: who.user.id })).to.deep.equal([]);
      }
    });

    it('a user holding only sesame:grant:roles cannot grant admin or premium, but can grant what they hold', async () => {
      const admin = await adminUser(app);
      const { user: granter } = await userWithCustomRole(admin, ['sesame:grant:roles'], 60);
      const target = await loggedInUser(app);
      expectProblem(await grant(tokenOf(granter), target.user.id, { role_id: await roleIdOf('admin') }), 403, 'privilege_escalation');
      expectProblem(await grant(tokenOf(granter), target.user.id, { role_id: await roleIdOf('premium') }), 403, 'privilege_escalation');
      expect((await heldRoles(target.user.id)).map((r) => r.name)).to.deep.equal(['free']);
      // A role ranking above them is refused even when they hold its permissions.
      const above = await roleViaApi(admin, ['quiz:play:free'], 61);
      expectProblem(await grant(tokenOf(granter), target.user.id, { role_id: above.id }), 403, 'privilege_escalation');
      // `free`'s quiz:play:free is theirs (registration gave them free) and it ranks below them.
      const guestTarget = await loggedInUser(app);
      await app.db('user_roles').where({ user_id: guestTarget.user.id }).delete();
      const ok = await grant(tokenOf(granter), guestTarget.user.id, { role_id: await roleIdOf('free') });
      expect(ok.response?.status, JSON.stringify(ok.error)).to.equal(201);
      expect(ok.data!.granted_by).to.equal(granter.user.id);
      // And they cannot take admin away from someone either.
      const otherAdmin = await adminUser(app);
      expectProblem(await revoke(tokenOf(granter), otherAdmin.user.id, await roleIdOf('admin')), 403, 'privilege_escalation');
      expect((await heldRoles(otherAdmin.user.id)).map((r) => r.name)).to.include('admin');
    });

    it('403 permission_denied without sesame:grant:roles', async () => {
      const user = await userWithRole(app, 'premium');
      const target = await loggedInUser(app);
      expectProblem(await grant(tokenOf(user), target.user.id, { role_id: await roleIdOf('free') }), 403, 'permission_denied');
      expectProblem(await revoke(tokenOf(user), target.user.id, await roleIdOf('free')), 403, 'permission_denied');
      expect((await heldRoles(target.user.id)).map((r) => r.name)).to.deep.equal(['free']);
    });

    it('404 role_not_found, user_not_found (unknown or deleted) and role_not_granted', async () => {
      const admin = await adminUser(app);
      const target = await loggedInUser(app);
      expectProblem(await grant(tokenOf(admin), target.user.id, { role_id: randomUUID() }), 404, 'role_not_found');
      expectProblem(await revoke(tokenOf(admin), target.user.id, randomUUID()), 404, 'role_not_found');
      const premiumId = await roleIdOf('premium');
      expectProblem(await grant(tokenOf(admin), randomUUID(), { role_id: premiumId }), 404, 'user_not_found');
      expectProblem(await revoke(tokenOf(admin), randomUUID(), premiumId), 404, 'user_not_found');
      expectProblem(await revoke(tokenOf(admin), target.user.id, premiumId), 404, 'role_not_granted');

      const deleted = await loggedInUser(app);
      await app.db('users').where({ id: deleted.user.id }).update({ deleted_at: app.clock.now() });
      expectProblem(await grant(tokenOf(admin), deleted.user.id, { role_id: premiumId }), 404, 'user_not_found');
      expectProblem(await revoke(tokenOf(admin), deleted.user.id, await roleIdOf('free')), 404, 'user_not_found');
      expect((await heldRoles(deleted.user.id)).map((r) => r.name)).to.deep.equal(['free']);
    });

    it('a grant that has expired is no longer held: revoking it is 404 role_not_granted', async () => {
      const admin = await adminUser(app);
      const target = await loggedInUser(app);
      const premiumId = await roleIdOf('premium');
      const until = new Date(app.clock.now().getTime() + 60_000);
      expect((await grant(tokenOf(admin), target.user.id, { role_id: premiumId, expires_at: until.toISOString() })).response?.status).to.equal(201);
      app.clock.advance(61_000);
      expectProblem(await revoke(tokenOf(admin), target.user.id, premiumId), 404, 'role_not_granted');
    });
  });
});
