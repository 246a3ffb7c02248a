import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { startTestApp, type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, registerUser, strongPassword, tokensOf, verifiedUser } from '../../helpers/flows.js';
import { createOrganization, memberWithRole } from '../../helpers/organizations.js';
import { adminUser, grantRoleDirectly, userWithPermissions } from '../../helpers/rbac.js';

describe('admin: user search and account state', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const search = (token: string, query: sdk.SearchUsersData['query'] = {}) => sdk.searchUsers({ client: app.client, auth: token, query });
  const patch = (token: string, userId: string, body: Record<string, unknown>) =>
    sdk.updateAdminUser({ client: app.client, auth: token, path: { user_id: userId }, body: body as sdk.AdminUserUpdateRequest });
  const login = (email: string, password = strongPassword) => sdk.login({ client: app.client, body: { email, password } });
  /** The audit rows an administrator wrote, oldest first. */
  const actedBy = (actorId: string) => app.db('audit_logs').where({ actor_id: actorId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);

  describe('GET /admin/users', () => {
    it('pages through more matches than a page, newest first, with no row twice', async () => {
      const admin = await adminUser(app);
      const tag = `srch-${randomBytes(4).toString('hex')}`;
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        app.clock.advance(1_000);
        ids.push((await registerUser(app, { email: `${tag}.${i}@example.com` })).user.id);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      const sizes: number[] = [];
      do {
        const { data, error } = await search(admin.session.access_token, { email: tag.toUpperCase(), limit: 3, ...(cursor ? { cursor } : {}) });
        expect(error, JSON.stringify(error)).to.equal(undefined);
        sizes.push(data!.items.length);
        seen.push(...data!.items.map((u) => u.id));
        cursor = data!.next_cursor ?? undefined;
      } while (cursor);
      expect(sizes).to.deep.equal([3, 3, 1]);
      expect(seen).to.deep.equal([...ids].reverse());
    });

    it('filters by name, phone prefix, status, actor type, role, guest and creation time, all together', async () => {
      const admin = await adminUser(app);
      const tag = `Flt${randomBytes(3).toString('hex')}`;
      const phone = `+2405${String(Date.now()).slice(-8)}`;
      const start = app.clock.now();
      const pending = await registerUser(app, { first_name: tag, last_name: 'Pending' });
      app.clock.advance(10_000);
      const business = await loggedInUser(app, { first_name: tag, last_name: 'Business', user_type: 'business', phone });
      app.clock.advance(10_000);
      const premium = await loggedInUser(app, { first_name: tag, last_name: 'Premium' });
      await grantRoleDirectly(app, premium.user.id, 'premium');
      const guest = (await sdk.createGuest({ client: app.client, body: { device_id: `dev-${tag}` } })).data!;
      const t = admin.session.access_token;
      const idsOf = async (query: sdk.SearchUsersData['query']) => {
        const { data, error } = await search(t, query);
        expect(error, JSON.stringify(error)).to.equal(undefined);
        return data!.items.map((u) => u.id);
      };

      expect(await idsOf({ name: tag.toLowerCase() })).to.deep.equal([premium.user.id, business.user.id, pending.user.id]);
      expect(await idsOf({ name: `${tag} bus` })).to.deep.equal([business.user.id]);
      expect(await idsOf({ phone: phone.slice(0, 9) })).to.include(business.user.id);
      expect(await idsOf({ name: tag, status: 'pending_verification' })).to.deep.equal([pending.user.id]);
      expect(await idsOf({ name: tag, actor_type: 'business' })).to.deep.equal([business.user.id]);
      expect(await idsOf({ name: tag, role: 'premium' })).to.deep.equal([premium.user.id]);
      expect(await idsOf({ name: tag, is_guest: false, created_after: new Date(start.getTime() + 5_000).toISOString(), created_before: new Date(start.getTime() + 15_000).toISOString() })).to.deep.equal([business.user.id]);
      expect(await idsOf({ is_guest: true, created_after: new Date(start.getTime() + 20_000).toISOString() })).to.include(guest.user.id);

      const { data } = await search(t, { name: tag, role: 'premium' });
      expect(data!.items[0]).to.deep.include({ email: premium.body.email, status: 'active', actor_types: ['citizen'], roles: ['premium', 'free'], is_guest: false });
    });

    it('filters the members of an organization, optionally with a role; a role alone means in any live organization', async () => {
      const admin = await adminUser(app);
      const t = admin.session.access_token;
      const owner = await loggedInUser(app);
      const org = await createOrganization(app, owner);
      const [viewer, member] = [await memberWithRole(app, org.id, 'viewer'), await memberWithRole(app, org.id, 'member')];
      const outsider = await loggedInUser(app);
      const elsewhere = await createOrganization(app, outsider);
      const idsOf = async (query: sdk.SearchUsersData['query']) => {
        const { data, error } = await search(t, query);
        expect(error, JSON.stringify(error)).to.equal(undefined);
        return data!.items.map((u) => u.id);
      };

      expect(await idsOf({ organization_id: org.id })).to.have.members([owner.user.id, viewer.user.id, member.user.id]);
      expect(await idsOf({ organization_id: org.id, org_role: 'viewer' })).to.deep.equal([viewer.user.id]);
      expect(await idsOf({ organization_id: elsewhere.id, org_role: 'viewer' })).to.deep.equal([]);
      expect(await idsOf({ organization_id: org.id, email: member.body.email })).to.deep.equal([member.user.id]);
      expect(await idsOf({ organization_id: randomUUID() })).to.deep.equal([]);
      expect(await idsOf({ org_role: 'owner', email: owner.body.email })).to.deep.equal([owner.user.id]);
      expect(await idsOf({ org_role: 'owner', email: outsider.body.email })).to.deep.equal([outsider.user.id]);
      expect(await idsOf({ org_role: 'owner', email: viewer.body.email })).to.deep.equal([]);

      // A deleted organization: its members stay findable by its id, not by a role in any live one.
      await sdk.deleteOrganization({ client: app.client, auth: outsider.session.access_token, path: { org_id: elsewhere.id } });
      expect(await idsOf({ organization_id: elsewhere.id })).to.deep.equal([outsider.user.id]);
      expect(await idsOf({ org_role: 'owner', email: outsider.body.email })).to.deep.equal([]);

      const rows = await actedBy(admin.user.id);
      expect(rows.map((r) => r.details)).to.deep.include({ terms: [], filters: { organization_id: org.id, org_role: 'viewer' }, results: 1 });
    });

    it('the organization filter also needs sesame:read:organizations (403 permission_denied)', async () => {
      const owner = await loggedInUser(app);
      const org = await createOrganization(app, owner);
      const reader = await userWithPermissions(app, ['sesame:read:users']);
      expectProblem(await search(reader.session.access_token, { organization_id: org.id }), 403, 'permission_denied');
      expectProblem(await search(reader.session.access_token, { org_role: 'owner' }), 403, 'permission_denied');
      expect(await actedBy(reader.user.id)).to.deep.equal([]);
      const both = await userWithPermissions(app, ['sesame:read:users', 'sesame:read:organizations']);
      expect((await search(both.session.access_token, { organization_id: org.id })).data!.items.map((u) => u.id)).to.deep.equal([owner.user.id]);
    });

    it('takes LIKE wildcards in a search term literally', async () => {
      const admin = await adminUser(app);
      await registerUser(app, { email: `wild${randomBytes(3).toString('hex')}@example.com` });
      const { data } = await search(admin.session.access_token, { email: '%' });
      expect(data!.items).to.deep.equal([]);
      expect((await search(admin.session.access_token, { name: '_' })).data!.items).to.deep.equal([]);
    });

    it('refuses a user without sesame:read:users, and an administrator lacking it, with 403 permission_denied', async () => {
      const plain = await loggedInUser(app);
      expectProblem(await search(plain.session.access_token), 403, 'permission_denied');
      const suspender = await userWithPermissions(app, ['sesame:suspend:users']);
      expectProblem(await search(suspender.session.access_token), 403, 'permission_denied');
      const reader = await userWithPermissions(app, ['sesame:read:users']);
      expect((await search(reader.session.access_token, { limit: 1 })).response?.status).to.equal(200);
    });

    it('writes exactly one audit row per search, naming the administrator and not the search terms', async () => {
      const admin = await adminUser(app);
      await search(admin.session.access_token, { email: 'someone@', status: 'active' });
      const rows = await actedBy(admin.user.id);
      expect(rows.map((r) => r.event)).to.deep.equal(['admin.users_searched']);
      expect(rows[0].details).to.deep.include({ terms: ['email'], filters: { status: 'active' } });
      expect(JSON.stringify(rows[0].details)).to.not.include('someone');
    });

    it('refuses a cursor that is not one of ours with 400 validation_failed', async () => {
      const admin = await adminUser(app);
      expectProblem(await search(admin.session.access_token, { cursor: 'bm90LWEtY3Vyc29y' }), 400, 'validation_failed');
    });
  });

  describe('GET /admin/users/{user_id}', () => {
    it('reads a user with roles and live sessions, one audit row', async () => {
      const admin = await adminUser(app);
      const target = await loggedInUser(app);
      const { data, error } = await sdk.getAdminUser({ client: app.client, auth: admin.session.access_token, path: { user_id: target.user.id } });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(data).to.deep.include({ id: target.user.id, email: target.body.email, roles: ['free'], live_sessions: 1, actor_types: ['citizen'] });
      const rows = await actedBy(admin.user.id);
      expect(rows.map((r) => [r.event, r.user_id])).to.deep.equal([['admin.user_viewed', target.user.id]]);
      expectProblem(await sdk.getAdminUser({ client: app.client, auth: admin.session.access_token, path: { user_id: randomUUID() } }), 404, 'user_not_found');
    });
  });

  describe('PATCH /admin/users/{user_id}', () => {
    it('suspends: every session ends at once, a second instance refuses the access and refresh tokens, login is refused', async () => {
      const other = await startTestApp({ clock: app.clock });
      try {
        const admin = await adminUser(app);
        const target = await loggedInUser(app);
        const second = tokensOf((await login(target.body.email)).data);
        // Both instances accept the tokens first.
        expect((await sdk.getProfile({ client: other.client, auth: target.session.access_token })).response?.status).to.equal(200);

        const { data, error } = await patch(admin.session.access_token, target.user.id, { status: 'suspended', reason: 'Fraud report #12' });
        expect(error, JSON.stringify(error)).to.equal(undefined);
        expect(data).to.deep.include({ status: 'suspended', live_sessions: 0 });

        for (const session of [target.session, second]) {
          expectProblem(await sdk.getProfile({ client: other.client, auth: session.access_token }), 401, 'session_revoked');
          expectProblem(await sdk.verifyTokenGet({ client: other.client, headers: { authorization: `Bearer ${session.access_token}` } }), 401, 'session_revoked');
          expectProblem(await sdk.refreshToken({ client: other.client, body: { refresh_token: session.refresh_token } }), 401, 'session_revoked');
        }
        expectProblem(await sdk.login({ client: other.client, body: { email: target.body.email, password: strongPassword } }), 403, 'account_suspended');

        const rows = await actedBy(admin.user.id);
        expect(rows).to.have.length(1);
        expect(rows[0]).to.deep.include({ event: 'user.suspended', user_id: target.user.id, session_id: null });
        expect(rows[0].details).to.deep.equal({ fields: ['status'], reason: 'Fraud report #12', revoked: { sessions: 2, api_keys: 0 }, status: { from: 'active', to: 'suspended' } });
      } finally {
        await other.close();
      }
    });

    it('suspending revokes every API key of the user at once on a second instance, for good: reactivation brings none back', async () => {
      const other = await startTestApp({ clock: app.clock });
      const createKey = async (session: sdk.LoginSuccess, name: string) => {
        const { data, error } = await sdk.createApiKey({ client: app.client, auth: session.access_token, body: { name, permissions: [] } });
        expect(error, JSON.stringify(error)).to.equal(undefined);
        return data!;
      };
      const verifyOn = (instance: TestApp, secret: string) => sdk.verifyTokenGet({ client: instance.client, headers: { 'x-api-key': secret } });
      try {
        const admin = await adminUser(app);
        const owner = await loggedInUser(app);
        const keys = [await createKey(owner.session, 'Catalogue sync'), await createKey(owner.session, 'Ads service')];
        const bystander = await loggedInUser(app);
        const theirs = await createKey(bystander.session, 'Not theirs to lose');
        // The second instance accepts the keys first (and remembers the uses, to write later).
        for (const key of keys) expect((await verifyOn(other, key.secret)).response?.status).to.equal(200);

        expect((await patch(admin.session.access_token, owner.user.id, { status: 'suspended' })).data?.status).to.equal('suspended');
        for (const key of keys) expectProblem(await verifyOn(other, key.secret), 401, 'invalid_api_key');
        // The uses written after the revocation do not undo it.
        await other.running.container.apiKeyUsage.flush();
        const stored = await app.db('api_keys').whereIn('id', keys.map((k) => k.id));
        expect(stored.map((k) => [k.revoked_at !== null, k.last_used_at !== null])).to.deep.equal([
          [true, true],
          [true, true],
        ]);

        app.clock.advance(1_000);
        expect((await patch(admin.session.access_token, owner.user.id, { status: 'active' })).data?.status).to.equal('active');
        for (const instance of [other, app]) for (const key of keys) expectProblem(await verifyOn(instance, key.secret), 401, 'invalid_api_key');
        expect((await verifyOn(other, theirs.secret)).response?.status).to.equal(200);

        // Back in, the owner has no key left and makes new ones.
        const session = tokensOf((await login(owner.body.email)).data);
        expect((await sdk.listApiKeys({ client: app.client, auth: session.access_token })).data!.items).to.deep.equal([]);
        expect((await verifyOn(other, (await createKey(session, 'After reactivation')).secret)).response?.status).to.equal(200);

        const [suspended] = (await actedBy(admin.user.id)).filter((r) => r.event === 'user.suspended');
        expect(suspended.details.revoked).to.deep.equal({ sessions: 1, api_keys: 2 });
      } finally {
        await other.close();
      }
    });

    it('reactivates without bringing the old sessions back; an unverified email goes back to pending', async () => {
      const admin = await adminUser(app);
      const target = await loggedInUser(app);
      await patch(admin.session.access_token, target.user.id, { status: 'suspended' });
      app.clock.advance(1_000);
      const { data } = await patch(admin.session.access_token, target.user.id, { status: 'active' });
      expect(data).to.deep.include({ status: 'active', live_sessions: 0 });
      expectProblem(await sdk.getProfile({ client: app.client, auth: target.session.access_token }), 401, 'session_revoked');
      expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: target.session.refresh_token } }), 401, 'session_revoked');
      tokensOf((await login(target.body.email)).data);
      expect((await actedBy(admin.user.id)).map((r) => r.event)).to.deep.equal(['user.suspended', 'user.reactivated']);

      const pending = await registerUser(app);
      await patch(admin.session.access_token, pending.user.id, { status: 'suspended' });
      expect((await patch(admin.session.access_token, pending.user.id, { status: 'active' })).data!.status).to.equal('pending_verification');
    });

    it('marks an email verified, which activates a pending account', async () => {
      const admin = await adminUser(app);
      const pending = await registerUser(app);
      const { data } = await patch(admin.session.access_token, pending.user.id, { email_verified: true });
      expect(data).to.deep.include({ status: 'active', email_verified: true });
      tokensOf((await login(pending.body.email)).data);
      const [row] = await actedBy(admin.user.id);
      expect(row).to.deep.include({ event: 'user.updated', user_id: pending.user.id });
      expect(row.details).to.deep.equal({ fields: ['email_verified'], status: { from: 'pending_verification', to: 'active' } });
    });

    it('replaces the actor types; sessions acting as a removed type end at once', async () => {
      const admin = await adminUser(app);
      const target = await loggedInUser(app);
      const { data } = await patch(admin.session.access_token, target.user.id, { actor_types: ['business', 'merchant'] });
      expect(data!.actor_types).to.have.members(['business', 'merchant']);
      expectProblem(await sdk.getProfile({ client: app.client, auth: target.session.access_token }), 401, 'session_revoked');
      const [row] = await actedBy(admin.user.id);
      expect(row.details).to.deep.equal({ fields: ['actor_types'], actor_types: { added: ['business', 'merchant'], removed: ['citizen'], revoked_sessions: 1 } });

      expectProblem(await patch(admin.session.access_token, target.user.id, { actor_types: ['business', 'no-such-type'] }), 400, 'actor_type_not_allowed');
      expect((await sdk.getAdminUser({ client: app.client, auth: admin.session.access_token, path: { user_id: target.user.id } })).data!.actor_types).to.have.members(['business', 'merchant']);
    });

    it('needs the permission of each field it changes: 403 permission_denied, nothing changes, no audit row', async () => {
      const target = await verifiedUser(app);
      const plain = await loggedInUser(app);
      expectProblem(await patch(plain.session.access_token, target.id, { status: 'suspended' }), 403, 'permission_denied');
      const suspender = await userWithPermissions(app, ['sesame:suspend:users']);
      expectProblem(await patch(suspender.session.access_token, target.id, { status: 'suspended', actor_types: ['business'] }), 403, 'permission_denied');
      expectProblem(await patch(suspender.session.access_token, target.id, { email_verified: true }), 403, 'permission_denied');
      expect(await actedBy(suspender.user.id)).to.deep.equal([]);
      expect((await app.db('users').where({ id: target.id }).first()).status).to.equal('active');
      expect((await patch(suspender.session.access_token, target.id, { status: 'suspended' })).data!.status).to.equal('suspended');
    });

    it('refuses changes to your own account (403 privilege_escalation), a body with no change (400) and unknown fields (400 field_not_editable)', async () => {
      const admin = await adminUser(app);
      const target = await verifiedUser(app);
      expectProblem(await patch(admin.session.access_token, admin.user.id, { status: 'suspended' }), 403, 'privilege_escalation');
      expectProblem(await patch(admin.session.access_token, target.id, { reason: 'nothing' }), 400, 'validation_failed');
      expectProblem(await patch(admin.session.access_token, target.id, { status: 'suspended', password_hash: 'x' }), 400, 'field_not_editable');
      expectProblem(await patch(admin.session.access_token, randomUUID(), { status: 'suspended' }), 404, 'user_not_found');
      expect(await actedBy(admin.user.id)).to.deep.equal([]);
    });
  });
});
