import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, registerUser, tokensOf } from '../../helpers/flows.js';
import { addMemberDirectly, createOrganization } from '../../helpers/organizations.js';
import type { AuditRow } from '../../helpers/probes.js';
import { adminUser } from '../../helpers/rbac.js';

describe('users: read, update, delete', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const getUser = (token: string, userId: string) => sdk.getUser({ client: app.client, auth: token, path: { user_id: userId } });
  const updateUser = (token: string, userId: string, body: Record<string, unknown>) =>
    sdk.updateUser({ client: app.client, auth: token, path: { user_id: userId }, body: body as sdk.UserUpdateRequest });
  const deleteUser = (token: string, userId: string) => sdk.deleteUser({ client: app.client, auth: token, path: { user_id: userId } });
  const refresh = (token: string) => sdk.refreshToken({ client: app.client, body: { refresh_token: token } });
  const storedUser = (id: string) => app.db('users').where({ id }).first();

  async function auditOf(userId: string, event: string): Promise<Array<AuditRow & { actor_id: string | null }>> {
    return app.db('audit_logs').where({ user_id: userId, event }).orderBy('created_at');
  }

  describe('GET /users/{user_id}', () => {
    it('gives yourself as the profile shows you, with roles, plan and metadata', async () => {
      const { session, user } = await loggedInUser(app);
      const { data, response } = await getUser(session.access_token, user.id);
      expect(response?.status).to.equal(200);
      const profile = (await sdk.getProfile({ client: app.client, auth: session.access_token })).data!;
      const { roles, plan, metadata, ...asUser } = data!;
      expect(asUser).to.deep.equal(profile);
      expect(plan).to.equal('free');
      expect(metadata).to.deep.equal({});
      const free = await app.db('roles').where({ name: 'free' }).first('id', 'priority');
      expect(roles).to.deep.equal([{ role_id: free.id, name: 'free', priority: free.priority, expires_at: null }]);
    });

    it('lists unexpired roles highest priority first, with their expiry, and the plan they give', async () => {
      const { session, user } = await loggedInUser(app);
      const expiresAt = new Date(app.clock.now().getTime() + 600_000);
      const premium = await app.db('roles').where({ name: 'premium' }).first('id');
      await app.db('user_roles').insert({ user_id: user.id, role_id: premium.id, granted_at: app.clock.now(), expires_at: expiresAt });
      const { data } = await getUser(session.access_token, user.id);
      expect(data!.roles.map((r) => [r.name, r.expires_at])).to.deep.equal([
        ['premium', expiresAt.toISOString()],
        ['free', null],
      ]);
      expect(data!.plan).to.equal('trial');
      app.clock.advance(600_000);
      const later = await getUser(session.access_token, user.id);
      expect(later.data!.roles.map((r) => r.name)).to.deep.equal(['free']);
      expect(later.data!.plan).to.equal('free');
    });

    it("answers 404 user_not_found for another user's id without sesame:read:users, and for an unknown id", async () => {
      const me = await loggedInUser(app);
      const other = await loggedInUser(app);
      expectProblem(await getUser(me.session.access_token, other.user.id), 404, 'user_not_found');
      expectProblem(await getUser(me.session.access_token, randomUUID()), 404, 'user_not_found');
    });

    it('without a token answers 401', async () => {
      const { user } = await registerUser(app);
      expect((await sdk.getUser({ client: app.client, path: { user_id: user.id } })).response?.status).to.equal(401);
    });
  });

  describe('PATCH /users/{user_id}', () => {
    it('updates your profile fields and replaces the metadata as a whole', async () => {
      const { session, user } = await loggedInUser(app);
      app.clock.advance(5_000);
      const changes = { first_name: 'Marie', display_name: 'MC', language: 'es', consents: { marketing: true }, metadata: { level: 3, badges: ['a', 'b'], nested: { x: null } } };
      const { data, response, error } = await updateUser(session.access_token, user.id, changes);
      expect(response?.status, JSON.stringify(error)).to.equal(200);
      expect(data).to.deep.include({ id: user.id, first_name: 'Marie', last_name: user.last_name, display_name: 'MC', language: 'es', consents: { analytics: false, marketing: true }, metadata: changes.metadata });
      expect(Date.parse(data!.updated_at) - Date.parse(user.updated_at)).to.be.at.least(5_000);
      expect((await getUser(session.access_token, user.id)).data).to.deep.equal(data);

      app.clock.advance(1_000);
      const replaced = await updateUser(session.access_token, user.id, { metadata: { theme: 'dark' } });
      expect(replaced.data!.metadata).to.deep.equal({ theme: 'dark' });
      expect((await storedUser(user.id)).metadata).to.deep.equal({ theme: 'dark' });

      const [first, second] = await auditOf(user.id, 'user.updated');
      expect(first).to.deep.include({ actor_id: null, details: { fields: ['first_name', 'display_name', 'language', 'consents.marketing', 'metadata'] } });
      expect(second?.details).to.deep.equal({ fields: ['metadata'] });
    });

    it('writes no audit row when nothing changes', async () => {
      const { session, user } = await loggedInUser(app);
      await updateUser(session.access_token, user.id, { metadata: { a: 1, b: 2 } });
      const same = await updateUser(session.access_token, user.id, { metadata: { b: 2, a: 1 }, first_name: user.first_name });
      expect(same.response?.status).to.equal(200);
      expect(await auditOf(user.id, 'user.updated')).to.have.length(1);
    });

    it('refuses metadata over 16 KiB with 400 metadata_too_large and keeps the old metadata', async () => {
      const { session, user } = await loggedInUser(app);
      await updateUser(session.access_token, user.id, { metadata: { kept: true } });
      // {"blob":"…"} is 11 bytes plus the string: exactly 16 KiB passes, one byte more does not.
      const fits = await updateUser(session.access_token, user.id, { metadata: { blob: 'x'.repeat(16 * 1024 - 11) }, first_name: 'Fits' });
      expect(fits.response?.status, JSON.stringify(fits.error)).to.equal(200);
      const tooLarge = await updateUser(session.access_token, user.id, { metadata: { blob: 'é'.repeat(8 * 1024) }, first_name: 'Changed' });
      expectProblem(tooLarge, 400, 'metadata_too_large');
      expectProblem(await updateUser(session.access_token, user.id, { metadata: { blob: 'x'.repeat(16 * 1024 - 10) } }), 400, 'metadata_too_large');
      const stored = await storedUser(user.id);
      expect(stored.first_name).to.equal('Fits');
      expect(stored.metadata.blob).to.have.length(16 * 1024 - 11);
    });

    it('refuses email, password, roles, status and unknown fields with 400 field_not_editable and changes nothing', async () => {
      const { session, user } = await loggedInUser(app);
      const before = await storedUser(user.id);
      for (const body of [{ email: 'other@example.com' }, { password: 'Another-Pass-2026!' }, { roles: ['admin'] }, { status: 'suspended' }, { first_name: 'Eve', is_guest: true }]) {
        expectProblem(await updateUser(session.access_token, user.id, body), 400, 'field_not_editable');
      }
      expect(await storedUser(user.id)).to.deep.equal(before);
    });

    it("answers 404 user_not_found for another user's id without sesame:write:users, and changes nothing", async () => {
      const me = await loggedInUser(app);
      const other = await loggedInUser(app);
      const before = await storedUser(other.user.id);
      expectProblem(await updateUser(me.session.access_token, other.user.id, { first_name: 'Hacked', metadata: { owned: true } }), 404, 'user_not_found');
      expect(await storedUser(other.user.id)).to.deep.equal(before);
    });
  });

  describe('DELETE /users/{user_id}', () => {
    it('soft-deletes yourself, ends every session at once and frees the email', async () => {
      const { session, user, body } = await loggedInUser(app);
      const second = tokensOf((await sdk.login({ client: app.client, body: { email: body.email, password: body.password } })).data);
      app.clock.advance(1_000);
      const deleted = await deleteUser(session.access_token, user.id);
      expect(deleted.response?.status, JSON.stringify(deleted.error)).to.equal(204);

      for (const tokens of [session, second]) {
        expect((await getUser(tokens.access_token, user.id)).response?.status).to.equal(401);
        expect((await sdk.getProfile({ client: app.client, auth: tokens.access_token })).response?.status).to.equal(401);
        expect((await refresh(tokens.refresh_token)).response?.status).to.equal(401);
      }
      const row = await storedUser(user.id);
      expect(row.deleted_at).to.be.instanceOf(Date);
      expect(await app.db('sessions').where({ user_id: user.id }).whereNull('revoked_at').first()).to.equal(undefined);
      expect((await app.db('sessions').where({ user_id: user.id }).distinct('revoked_reason')).map((r: { revoked_reason: string }) => r.revoked_reason)).to.deep.equal(['user_deleted']);
      expect(await auditOf(user.id, 'user.deleted')).to.have.length(1);
      expectProblem(await sdk.login({ client: app.client, body: { email: body.email, password: body.password } }), 401, 'invalid_credentials');

      const again = await registerUser(app, { email: body.email });
      expect(again.user.id).to.not.equal(user.id);
      expect(again.user.email).to.equal(body.email);
    });

    it('leaves every organization; the only owner of a live one is refused (409 last_owner) and nothing changes', async () => {
      const owner = await loggedInUser(app);
      const member = await loggedInUser(app);
      const shared = await createOrganization(app, owner);
      await addMemberDirectly(app, shared.id, member.user.id, 'member');
      const own = await createOrganization(app, member);

      expectProblem(await deleteUser(member.session.access_token, member.user.id), 409, 'last_owner');
      expect((await storedUser(member.user.id)).deleted_at).to.equal(null);
      expect(await app.db('organization_members').where({ user_id: member.user.id }).pluck('organization_id')).to.have.members([shared.id, own.id]);
      expect((await sdk.getProfile({ client: app.client, auth: member.session.access_token })).response?.status).to.equal(200);

      await addMemberDirectly(app, own.id, owner.user.id, 'owner');
      expect((await deleteUser(member.session.access_token, member.user.id)).response?.status).to.equal(204);
      expect(await app.db('organization_members').where({ user_id: member.user.id })).to.deep.equal([]);
      const [audit] = await auditOf(member.user.id, 'user.deleted');
      expect(audit!.details.organizations_left).to.have.members([shared.id, own.id]);
    });

    it("answers 404 user_not_found for another user's id without sesame:delete:users, and the user stays", async () => {
      const me = await loggedInUser(app);
      const other = await loggedInUser(app);
      expectProblem(await deleteUser(me.session.access_token, other.user.id), 404, 'user_not_found');
      expect((await storedUser(other.user.id)).deleted_at).to.equal(null);
      expect((await getUser(other.session.access_token, other.user.id)).response?.status).to.equal(200);
    });
  });

  describe('as an administrator', () => {
    it("reads, updates and deletes another user's account; the audit names the administrator", async () => {
      const admin = await adminUser(app);
      const other = await loggedInUser(app);
      const token = admin.session.access_token;

      const read = await getUser(token, other.user.id);
      expect(read.response?.status).to.equal(200);
      expect(read.data).to.include({ id: other.user.id, email: other.user.email });

      const updated = await updateUser(token, other.user.id, { display_name: 'Set by admin', metadata: { tier: 'gold' } });
      expect(updated.response?.status, JSON.stringify(updated.error)).to.equal(200);
      expect(updated.data).to.deep.include({ display_name: 'Set by admin', metadata: { tier: 'gold' } });
      const [audit] = await auditOf(other.user.id, 'user.updated');
      expect(audit).to.deep.include({ actor_id: admin.user.id, details: { fields: ['display_name', 'metadata'] } });

      expect((await deleteUser(token, other.user.id)).response?.status).to.equal(204);
      expect((await getUser(other.session.access_token, other.user.id)).response?.status).to.equal(401);
      expect((await refresh(other.session.refresh_token)).response?.status).to.equal(401);
      const [deleted] = await auditOf(other.user.id, 'user.deleted');
      expect(deleted?.actor_id).to.equal(admin.user.id);

      // Deleted is gone, for the administrator as for anyone.
      expectProblem(await getUser(token, other.user.id), 404, 'user_not_found');
      expectProblem(await updateUser(token, other.user.id, { first_name: 'Back' }), 404, 'user_not_found');
      expectProblem(await deleteUser(token, other.user.id), 404, 'user_not_found');
    });

    it('loses the power with the role: the check is live, not from the token', async () => {
      const admin = await adminUser(app);
      const other = await loggedInUser(app);
      expect((await getUser(admin.session.access_token, other.user.id)).response?.status).to.equal(200);
      await app.db('user_roles').where({ user_id: admin.user.id }).whereIn('role_id', app.db('roles').where({ name: 'admin' }).select('id')).delete();
      expectProblem(await getUser(admin.session.access_token, other.user.id), 404, 'user_not_found');
    });
  });
});
