import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser } from '../../helpers/flows.js';
import { adminUser, grantRoleDirectly, userWithRole } from '../../helpers/rbac.js';

type User = Awaited<ReturnType<typeof loggedInUser>>;

describe('permission check (live, from role grants)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const tokenOf = (u: User) => u.session.access_token;
  const unique = () => randomUUID().replace(/-/g, '').slice(0, 20);
  /** The system roles: other suites may add roles to the shared catalogue, so `required` is compared on these. */
  const seedRoles = new Set(['admin', 'premium', 'free', 'guest']);
  const seeded = (roles: string[]) => roles.filter((r) => seedRoles.has(r));

  const check = (token: string, userId: string, permission: string) => sdk.checkPermission({ client: app.client, auth: token, body: { user_id: userId, permission, context: { quiz_id: 'q-1' } } });

  async function decision(token: string, userId: string, permission: string): Promise<sdk.PermissionCheckResult> {
    const { data, error } = await check(token, userId, permission);
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return data!;
  }

  async function roleIdOf(name: string): Promise<string> {
    const row: { id: string } | undefined = await app.db('roles').where({ name }).first('id');
    return row!.id;
  }

  /** A user holding, besides `free`, a new role with `permissions` (made through the API by `admin`). */
  async function userWithPermissions(admin: User, permissions: string[]): Promise<{ user: User; role: sdk.Role }> {
    const { data, error } = await sdk.createRole({ client: app.client, auth: tokenOf(admin), body: { name: `role-${unique()}`, priority: 20, permissions } });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    const user = await loggedInUser(app);
    await grantRoleDirectly(app, user.user.id, data!.name);
    return { user, role: data! };
  }

  describe('decisions', () => {
    it('refuses quiz:play:premium to a free user, naming the roles that would grant it and theirs', async () => {
      const free = await loggedInUser(app);
      const result = await decision(tokenOf(free), free.user.id, 'quiz:play:premium');
      expect(result).to.include({ allowed: false, reason: 'insufficient_permissions' });
      expect(seeded(result.required)).to.deep.equal(['admin', 'premium']); // admin through *:*:*, highest first
      expect(result.current).to.deep.equal(['free']);
    });

    it('allows quiz:play:premium to a premium user', async () => {
      const premium = await userWithRole(app, 'premium');
      const result = await decision(tokenOf(premium), premium.user.id, 'quiz:play:premium');
      expect(result).to.include({ allowed: true, reason: 'granted' });
      expect(seeded(result.required)).to.deep.equal(['admin', 'premium']);
      expect(result.current).to.deep.equal(['premium', 'free']);
    });

    it('matches wildcards: subscription:purchase:* covers subscription:purchase:monthly, *:*:* covers anything', async () => {
      const premium = await userWithRole(app, 'premium');
      const monthly = await decision(tokenOf(premium), premium.user.id, 'subscription:purchase:monthly');
      expect(monthly).to.include({ allowed: true, reason: 'granted' });
      expect(seeded(monthly.required)).to.deep.equal(['admin', 'premium']);
      const free = await loggedInUser(app);
      expect(await decision(tokenOf(free), free.user.id, 'subscription:purchase:monthly')).to.include({ allowed: false, reason: 'insufficient_permissions' });

      const admin = await adminUser(app);
      for (const permission of ['quiz:play:premium', 'sesame:write:actor_types', `t${unique()}:anything:here`, 'subscription:purchase:*']) {
        expect(await decision(tokenOf(admin), admin.user.id, permission), permission).to.include({ allowed: true, reason: 'granted' });
      }
      // A `*` asked for is literal: premium's subscription:purchase:* covers it, quiz:play:free does not cover quiz:play:*.
      expect(await decision(tokenOf(premium), premium.user.id, 'subscription:purchase:*')).to.include({ allowed: true });
      expect(await decision(tokenOf(free), free.user.id, 'quiz:play:*')).to.include({ allowed: false });
    });

    it('names the roles holding a matching permission, highest first, and only those', async () => {
      const admin = await adminUser(app);
      const permission = `t${unique()}:read:reports`;
      expect((await sdk.createPermission({ client: app.client, auth: tokenOf(admin), body: { name: permission } })).response?.status).to.equal(201);
      const { user, role } = await userWithPermissions(admin, [permission]);
      const result = await decision(tokenOf(user), user.user.id, permission);
      expect(result).to.include({ allowed: true, reason: 'granted' });
      expect(result.required).to.include.members(['admin', role.name]);
      for (const other of ['premium', 'free', 'guest']) expect(result.required).to.not.include(other);
      expect(result.required.indexOf('admin')).to.be.lessThan(result.required.indexOf(role.name));
      expect(result.current).to.deep.equal([role.name, 'free']);
    });

    it('never allows a suspended user (reason account_suspended)', async () => {
      const admin = await adminUser(app);
      const premium = await userWithRole(app, 'premium');
      await app.db('users').where({ id: premium.user.id }).update({ status: 'suspended' });
      const result = await decision(tokenOf(admin), premium.user.id, 'quiz:play:premium');
      expect(result).to.include({ allowed: false, reason: 'account_suspended' });
      expect(result.current).to.deep.equal(['premium', 'free']);
    });
  });

  describe('live from the database', () => {
    it('an expired role grant no longer grants, and tokens issued before the expiry end at it', async () => {
      const admin = await adminUser(app);
      const user = await loggedInUser(app); // its token predates the grant and outlives it (30 min)
      const expiresAt = new Date(app.clock.now().getTime() + 10 * 60_000);
      const granted = await sdk.grantRole({ client: app.client, auth: tokenOf(admin), path: { user_id: user.user.id }, body: { role_id: await roleIdOf('premium'), expires_at: expiresAt.toISOString() } });
      expect(granted.response?.status, JSON.stringify(granted.error)).to.equal(201);

      expect(await decision(tokenOf(user), user.user.id, 'quiz:play:premium')).to.include({ allowed: true, reason: 'granted' });
      const refreshed = await sdk.refreshToken({ client: app.client, body: { refresh_token: user.session.refresh_token } });
      expect(refreshed.error, JSON.stringify(refreshed.error)).to.equal(undefined);
      const claims = decodeJwt(refreshed.data!.access_token);
      expect(claims.roles).to.include('premium');
      expect(claims.exp).to.be.at.most(Math.floor(expiresAt.getTime() / 1000));

      app.clock.set(new Date(expiresAt.getTime() + 1000));
      const after = await decision(tokenOf(user), user.user.id, 'quiz:play:premium');
      expect(after).to.include({ allowed: false, reason: 'insufficient_permissions' });
      expect(after.current).to.deep.equal(['free']);
      expect(await decision(tokenOf(admin), user.user.id, 'quiz:play:premium')).to.include({ allowed: false });
      expectProblem(await check(refreshed.data!.access_token, user.user.id, 'quiz:play:premium'), 401, 'token_expired');
    });

    it('a revoked role stops granting at once, whatever the token says', async () => {
      const admin = await adminUser(app);
      const premium = await userWithRole(app, 'premium');
      const premiumId = await roleIdOf('premium');
      expect(await decision(tokenOf(premium), premium.user.id, 'ads:skip:interstitial')).to.include({ allowed: true });
      const out = await sdk.revokeRole({ client: app.client, auth: tokenOf(admin), path: { user_id: premium.user.id, role_id: premiumId } });
      expect(out.response?.status, JSON.stringify(out.error)).to.equal(204);
      expect(await decision(tokenOf(premium), premium.user.id, 'ads:skip:interstitial')).to.include({ allowed: false, reason: 'insufficient_permissions' });
    });

    it('a role’s new permissions apply at once', async () => {
      const admin = await adminUser(app);
      const { user, role } = await userWithPermissions(admin, ['quiz:create:own']);
      expect(await decision(tokenOf(user), user.user.id, 'quiz:create:own')).to.include({ allowed: true });
      const set = await sdk.setRolePermissions({ client: app.client, auth: tokenOf(admin), path: { role_id: role.id }, body: { permissions: ['subscription:view:plans'] } });
      expect(set.error, JSON.stringify(set.error)).to.equal(undefined);
      expect(await decision(tokenOf(user), user.user.id, 'quiz:create:own')).to.include({ allowed: false });
      expect(await decision(tokenOf(user), user.user.id, 'subscription:view:plans')).to.include({ allowed: true });
    });
  });

  describe('who may check whom', () => {
    it('403 permission_denied when checking someone else without sesame:check:permissions (even an unknown id)', async () => {
      const user = await loggedInUser(app);
      const other = await loggedInUser(app);
      expectProblem(await check(tokenOf(user), other.user.id, 'quiz:play:free'), 403, 'permission_denied');
      expectProblem(await check(tokenOf(user), randomUUID(), 'quiz:play:free'), 403, 'permission_denied');
    });

    it('a holder of sesame:check:permissions may check anyone', async () => {
      const admin = await adminUser(app);
      const { user: checker } = await userWithPermissions(admin, ['sesame:check:permissions']);
      const premium = await userWithRole(app, 'premium');
      expect(await decision(tokenOf(checker), premium.user.id, 'quiz:play:premium')).to.include({ allowed: true, reason: 'granted' });
    });

    it('404 user_not_found for an unknown or deleted user', async () => {
      const admin = await adminUser(app);
      expectProblem(await check(tokenOf(admin), randomUUID(), 'quiz:play:free'), 404, 'user_not_found');
      const gone = await loggedInUser(app);
      await app.db('users').where({ id: gone.user.id }).update({ deleted_at: app.clock.now() });
      expectProblem(await check(tokenOf(admin), gone.user.id, 'quiz:play:free'), 404, 'user_not_found');
    });

    it('400 validation_failed for a malformed permission; 401 without a token', async () => {
      const user = await loggedInUser(app);
      expectProblem(await check(tokenOf(user), user.user.id, 'quiz:play'), 400, 'validation_failed');
      expectProblem(await sdk.checkPermission({ client: app.client, body: { user_id: user.user.id, permission: 'quiz:play:free' } }), 401, 'authentication_required');
    });
  });
});
