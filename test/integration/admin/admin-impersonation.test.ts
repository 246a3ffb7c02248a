import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { actorTypePolicy, createCustomActorType, removeCustomActorTypesAfter } from '../../helpers/actor-types.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, latestMessage, loggedInUser, registerUser, strongPassword } from '../../helpers/flows.js';
import { lockWaiters } from '../../helpers/locks.js';
import { adminUser, userWithPermissions } from '../../helpers/rbac.js';

describe('admin: impersonation', () => {
  let app: TestApp;
  const created: string[] = [];
  removeCustomActorTypesAfter(() => app, created);
  useTestApp((started) => (app = started));

  const reason = 'Ticket #4521: cannot see invoices';
  const impersonate = (token: string, userId: string, body: Record<string, unknown> = { reason }) =>
    sdk.impersonateUser({ client: app.client, auth: token, path: { user_id: userId }, body: body as sdk.ImpersonationRequest });
  const stop = (token: string) => sdk.stopImpersonation({ client: app.client, auth: token });
  const profile = (token: string) => sdk.getProfile({ client: app.client, auth: token });
  const actedBy = (actorId: string) => app.db('audit_logs').where({ actor_id: actorId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);

  /** An administrator, a user, and a started impersonation of the user. */
  async function started() {
    const admin = await adminUser(app);
    const target = await loggedInUser(app);
    const result = await impersonate(admin.session.access_token, target.user.id);
    expect(result.error, JSON.stringify(result.error)).to.equal(undefined);
    return { admin, target, imp: result.data! };
  }

  it('answers the user’s tokens with act.sub the administrator, for at most one hour', async () => {
    const now = app.clock.now().getTime();
    const { admin, target, imp } = await started();
    const claims = decodeJwt(imp.access_token);
    expect(claims).to.deep.include({ sub: target.user.id, act: { sub: admin.user.id }, actor_type: 'citizen', amr: ['impersonation'] });
    expect(imp.act).to.deep.equal({ sub: admin.user.id });
    expect(imp.user.id).to.equal(target.user.id);
    expect(Date.parse(imp.expires_at)).to.equal(now + 3600_000);
    expect((await profile(imp.access_token)).data!.email).to.equal(target.body.email);
    const verified = await sdk.verifyTokenGet({ client: app.client, headers: { authorization: `Bearer ${imp.access_token}` } });
    expect((verified.data as sdk.VerifiedToken).act).to.deep.equal({ sub: admin.user.id });

    app.clock.advance(1801_000);
    expectProblem(await profile(imp.access_token), 401, 'token_expired');
    const refreshed = await sdk.refreshToken({ client: app.client, body: { refresh_token: imp.refresh_token } });
    expect(decodeJwt(refreshed.data!.access_token).act).to.deep.equal({ sub: admin.user.id });
    // The refreshed token ends with the session, not 30 minutes later.
    expect(refreshed.data!.expires_in).to.equal(1799);
    app.clock.advance(1800_000);
    expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: refreshed.data!.refresh_token } }), 401, 'session_expired');
  });

  it('writes one impersonation.started row, notifies the user by email, and marks the session in their list', async () => {
    const { admin, target, imp } = await started();
    const rows = await actedBy(admin.user.id);
    expect(rows.map((r) => [r.event, r.user_id])).to.deep.equal([['impersonation.started', target.user.id]]);
    expect(rows[0].details).to.deep.include({ reason, auth_method: 'impersonation', act: { sub: admin.user.id } });
    expect(rows[0].session_id).to.equal(decodeJwt(imp.access_token).sid);

    const message = await latestMessage(app, target.body.email);
    expect(message.template).to.equal('impersonation_started');
    expect(message.subject).to.equal('Un administrateur a ouvert une session sur votre compte');
    expect(message.body).to.include(reason);

    const { data } = await sdk.listSessions({ client: app.client, auth: target.session.access_token });
    const marks = data!.items.map((s) => [s.auth_method, s.impersonator_id]);
    expect(marks).to.have.deep.members([
      ['impersonation', admin.user.id],
      ['password', null],
    ]);
  });

  it('audits every request under it with both ids, and the changes it makes name the administrator', async () => {
    const { admin, target, imp } = await started();
    await profile(imp.access_token);
    const updated = await sdk.updateProfile({ client: app.client, auth: imp.access_token, body: { display_name: 'Changed by support' } });
    expect(updated.response?.status).to.equal(200);
    const rows = await actedBy(admin.user.id);
    expect(rows.map((r) => r.event)).to.have.members(['impersonation.started', 'impersonation.request', 'impersonation.request', 'profile.updated']);
    const requests = rows.filter((r) => r.event === 'impersonation.request');
    expect(requests.map((r) => [r.user_id, r.details.method])).to.have.deep.members([
      [target.user.id, 'GET'],
      [target.user.id, 'PATCH'],
    ]);
    const change = rows.find((r) => r.event === 'profile.updated')!;
    expect(change.user_id).to.equal(target.user.id);
    expect(change.details.act).to.deep.equal({ sub: admin.user.id });
  });

  it("cannot change the user's password or second factor, switch actor or delete the account: 403 impersonation_forbidden", async () => {
    const { target, imp } = await started();
    const auth = imp.access_token;
    expectProblem(await sdk.changePassword({ client: app.client, auth, body: { old_password: strongPassword, new_password: 'Another-Pass-2027!', new_password_confirm: 'Another-Pass-2027!' } }), 403, 'impersonation_forbidden');
    expectProblem(await sdk.enableTwoFactor({ client: app.client, auth }), 403, 'impersonation_forbidden');
    expectProblem(await sdk.switchActor({ client: app.client, auth, body: { actor_type: 'citizen' } }), 403, 'impersonation_forbidden');
    expectProblem(await sdk.deleteUser({ client: app.client, auth, path: { user_id: target.user.id } }), 403, 'impersonation_forbidden');
    const login = await sdk.login({ client: app.client, body: { email: target.body.email, password: strongPassword } });
    expect(login.response?.status, 'the password is unchanged').to.equal(200);
    // Each attempt, refused or not, is in the audit log (the second-factor routes included).
    const routes = await app.db('audit_logs').where({ event: 'impersonation.request', session_id: decodeJwt(auth).sid }).pluck('details');
    expect(routes.map((d: { route: string }) => d.route)).to.have.members(['/api/v1/auth/password/change', '/api/v1/auth/2fa/enable', '/api/v1/auth/switch-actor', '/api/v1/users/{user_id}']);
  });

  it("cannot change the user's phone, linked identities or API keys: 403 impersonation_forbidden, nothing written", async () => {
    const { target, imp } = await started();
    const auth = imp.access_token;
    const keyId = '5c2e8f10-7a3b-4d9e-b1c6-0f4a2d8e9b37';
    const refusals = [
      await sdk.setPhone({ client: app.client, auth, body: { verification_id: keyId } }),
      await sdk.linkIdentity({ client: app.client, auth, path: { provider: 'google' }, body: { redirect_uri: "http://localhost:5173/oauth/done" } }),
      await sdk.confirmIdentityLink({ client: app.client, auth, body: { code: 'gN3n6Qy1cWk0pKx2vJ8sLr5tUo7yZa9bCdEfGhIjKlM' } }),
      await sdk.unlinkIdentity({ client: app.client, auth, path: { identity_id: keyId } }),
      await sdk.createApiKey({ client: app.client, auth, body: { name: 'by support', permissions: [] } }),
      await sdk.revokeApiKey({ client: app.client, auth, path: { key_id: keyId } }),
      await sdk.rotateApiKey({ client: app.client, auth, path: { key_id: keyId }, body: {} }),
    ];
    for (const refused of refusals) expectProblem(refused, 403, 'impersonation_forbidden');
    expect(await app.db('api_keys').where({ user_id: target.user.id })).to.deep.equal([]);
  });

  it('an impersonated administrator cannot change roles, permissions, actor types or other users: 403 impersonation_forbidden', async () => {
    const admin = await adminUser(app);
    const support = await userWithPermissions(app, ['sesame:impersonate:users', 'sesame:impersonate:admins']);
    const other = await loggedInUser(app);
    const auth = (await impersonate(support.session.access_token, admin.user.id)).data!.access_token;
    const [role] = await app.db('roles').select('id').limit(1);
    const refusals = [
      await sdk.grantRole({ client: app.client, auth, path: { user_id: other.user.id }, body: { role_id: role.id } }),
      await sdk.revokeRole({ client: app.client, auth, path: { user_id: other.user.id, role_id: role.id } }),
      await sdk.createRole({ client: app.client, auth, body: { name: 'support-made', priority: 1 } }),
      await sdk.createPermission({ client: app.client, auth, body: { name: 'support:made:it' } }),
      await sdk.setRolePermissions({ client: app.client, auth, path: { role_id: role.id }, body: { permissions: [] } }),
      await sdk.updateAdminUser({ client: app.client, auth, path: { user_id: other.user.id }, body: { status: 'suspended', reason: 'by support' } }),
      await sdk.importUsers({ client: app.client, auth, body: { users: [{ email: `imported-${other.user.id}@example.com` }] } }),
      await sdk.putActorType({ client: app.client, auth, path: { name: 'citizen' }, body: actorTypePolicy({ allow_impersonation: false }) }),
    ];
    for (const refused of refusals) expectProblem(refused, 403, 'impersonation_forbidden');
    expect((await profile(other.session.access_token)).response?.status, 'the other user is not suspended').to.equal(200);
    expect(await app.db('roles').where({ name: 'support-made' })).to.deep.equal([]);
  });

  it('stop ends it at once and returns nothing; the administrator’s own session goes on', async () => {
    const { admin, target, imp } = await started();
    const stopped = await stop(imp.access_token);
    expect(stopped.response?.status).to.equal(204);
    expect(await stopped.response!.clone().text()).to.equal('');
    expectProblem(await profile(imp.access_token), 401, 'session_revoked');
    expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: imp.refresh_token } }), 401, 'session_revoked');
    expect((await profile(admin.session.access_token)).response?.status).to.equal(200);
    const [row] = await app.db('audit_logs').where({ event: 'impersonation.stopped', user_id: target.user.id });
    expect(row).to.deep.include({ actor_id: admin.user.id, session_id: decodeJwt(imp.access_token).sid });
    expectProblem(await stop(admin.session.access_token), 409, 'not_impersonating');
  });

  it('ends with the administrator’s session (a logout ends the impersonation too)', async () => {
    const { admin, imp } = await started();
    await sdk.logout({ client: app.client, auth: admin.session.access_token, body: {} });
    expectProblem(await profile(imp.access_token), 401, 'session_revoked');
  });

  it('an administrator session ending while the impersonation opens refuses it (401 session_revoked), none is left open', async () => {
    const admin = await adminUser(app);
    const target = await loggedInUser(app);
    const sid = decodeJwt(admin.session.access_token).sid as string;
    // Hold the administrator's session row, let the impersonation reach it, then end that session.
    let release!: () => void;
    const held = app.db.transaction(async (trx) => {
      await trx('sessions').where({ id: sid }).forUpdate();
      await new Promise<void>((resolve) => (release = resolve));
      await trx('sessions').where({ id: sid }).update({ revoked_at: app.clock.now(), revoked_reason: 'logout' });
    });
    const opening = impersonate(admin.session.access_token, target.user.id);
    await lockWaiters(app, 1);
    release();
    await held;
    expectProblem(await opening, 401, 'session_revoked');
    expect(await app.db('sessions').where({ impersonator_session_id: sid })).to.deep.equal([]);
  });

  it('refuses a user holding an actor type without allow_impersonation, yourself, an unverified account: 403 impersonation_not_allowed', async () => {
    const admin = await adminUser(app);
    const agent = await loggedInUser(app);
    await app.db('user_actor_types').insert({ user_id: agent.user.id, actor_type: 'agent' });
    expectProblem(await impersonate(admin.session.access_token, agent.user.id), 403, 'impersonation_not_allowed');
    expectProblem(await impersonate(admin.session.access_token, admin.user.id), 403, 'impersonation_not_allowed');
    const pending = await registerUser(app);
    expectProblem(await impersonate(admin.session.access_token, pending.user.id), 403, 'impersonation_not_allowed');
    expect(await actedBy(admin.user.id)).to.deep.equal([]);
  });

  it('needs sesame:impersonate:users, a reason, and for an administrator target sesame:impersonate:admins', async () => {
    const target = await loggedInUser(app);
    const plain = await loggedInUser(app);
    expectProblem(await impersonate(plain.session.access_token, target.user.id), 403, 'permission_denied');
    const support = await userWithPermissions(app, ['sesame:impersonate:users']);
    expectProblem(await impersonate(support.session.access_token, target.user.id, {}), 400, 'validation_failed');
    expectProblem(await impersonate(support.session.access_token, target.user.id, { reason: '    ' }), 400, 'validation_failed');
    expect((await impersonate(support.session.access_token, target.user.id)).response?.status).to.equal(200);

    const otherAdmin = await userWithPermissions(app, ['sesame:read:users']);
    const refused = expectProblem(await impersonate(support.session.access_token, otherAdmin.user.id), 403, 'permission_denied');
    expect(refused.detail).to.include('sesame:impersonate:admins');
    const senior = await userWithPermissions(app, ['sesame:impersonate:users', 'sesame:impersonate:admins']);
    expect((await impersonate(senior.session.access_token, otherAdmin.user.id)).response?.status).to.equal(200);
  });

  it('nests the chain when an impersonated administrator impersonates, and ending the outer one ends the inner one', async () => {
    const admin = await adminUser(app);
    const support = await userWithPermissions(app, ['sesame:impersonate:users']);
    const user = await loggedInUser(app);
    const outer = (await impersonate(admin.session.access_token, support.user.id)).data!;
    const inner = await impersonate(outer.access_token, user.user.id);
    expect(inner.error, JSON.stringify(inner.error)).to.equal(undefined);
    const chain = { sub: support.user.id, act: { sub: admin.user.id } };
    expect(decodeJwt(inner.data!.access_token).act).to.deep.equal(chain);
    expect(inner.data!.act).to.deep.equal(chain);
    // Nobody already in the chain can be impersonated from it.
    expectProblem(await impersonate(outer.access_token, admin.user.id), 403, 'impersonation_not_allowed');
    const started = await app.db('audit_logs').where({ event: 'impersonation.started', user_id: user.user.id }).first();
    expect(started).to.deep.include({ actor_id: support.user.id });
    expect(started.details.act).to.deep.equal(chain);

    expect((await stop(outer.access_token)).response?.status).to.equal(204);
    expectProblem(await profile(inner.data!.access_token), 401, 'session_revoked');
  });

  it('ends at the next refresh once the actor type stops allowing impersonation', async () => {
    const admin = await adminUser(app);
    const type = await createCustomActorType(app, admin.session.access_token, created, { allow_impersonation: true });
    const target = await loggedInUser(app);
    await app.db('user_actor_types').where({ user_id: target.user.id }).update({ actor_type: type });
    const imp = (await impersonate(admin.session.access_token, target.user.id)).data!;
    expect(decodeJwt(imp.access_token).actor_type).to.equal(type);
    const edited = await sdk.putActorType({ client: app.client, auth: admin.session.access_token, path: { name: type }, body: actorTypePolicy({ allow_impersonation: false }) });
    expect(edited.response?.status).to.equal(200);
    expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: imp.refresh_token } }), 401, 'session_revoked');
  });
});
