import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { actorTypePolicy, createCustomActorType, removeCustomActorTypesAfter } from '../../helpers/actor-types.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser } from '../../helpers/flows.js';
import { createOrganization } from '../../helpers/organizations.js';
import { adminUser, grantRoleDirectly } from '../../helpers/rbac.js';
import { statementsOf } from '../../helpers/statements.js';

/**
 * What a refresh costs (issue 17): one statement (`sesame_refresh`, which locks, rotates and
 * reads what the new access token carries) once the policy has judged its gate; two the first
 * time a process meets a gate (its verdict, then the rotation). The rare paths (reuse, a
 * withdrawn method) take a transaction; they are not counted here.
 */
describe('refresh statements', () => {
  let app: TestApp;
  let adminToken: string;
  const created: string[] = [];

  removeCustomActorTypesAfter(() => app, created);
  useTestApp((started) => (app = started));
  before(async () => {
    adminToken = (await adminUser(app)).session.access_token;
  });

  const refresh = (token: string) => sdk.refreshToken({ client: app.client, body: { refresh_token: token } });
  const refreshCounted = async (token: string) => {
    const { result, statements } = await statementsOf(app.db, () => refresh(token));
    expect(result.error, JSON.stringify(result.error)).to.equal(undefined);
    return { tokens: result.data!, statements };
  };
  const onlyRefreshStatements = (statements: string[]) => {
    for (const sql of statements) expect(sql).to.match(/ from sesame_refresh\(/);
  };
  const userOfNewType = async (overrides: Partial<sdk.ActorTypePolicy> = {}) => {
    const name = await createCustomActorType(app, adminToken, created, { self_signup: true, ...overrides });
    return { name, ...(await loggedInUser(app, { user_type: name })) };
  };

  it('a refresh is one statement once its gate was judged, two the first time', async () => {
    const { session } = await userOfNewType();
    const first = await refreshCounted(session.refresh_token);
    expect(first.statements).to.have.length(2);
    onlyRefreshStatements(first.statements);
    const second = await refreshCounted(first.tokens.refresh_token);
    expect(second.statements).to.have.length(1);
    onlyRefreshStatements(second.statements);
    expect((await sdk.getProfile({ client: app.client, auth: second.tokens.access_token })).response?.status).to.equal(200);
  });

  it('a retry within the grace window is one statement too, and the session and its device are seen active', async () => {
    const { session } = await loggedInUser(app, {}, { device: { name: 'Phone', type: 'ios' } });
    const warm = await refreshCounted(session.refresh_token);
    app.clock.advance(2000);
    const retried = await refreshCounted(session.refresh_token);
    expect(retried.statements).to.have.length(1);
    expect(retried.tokens.refresh_token).not.to.equal(warm.tokens.refresh_token);
    const sid = decodeJwt(session.access_token).sid as string;
    expect((await app.db('refresh_tokens').where({ session_id: sid }).orderBy('generation')).map((r) => r.generation)).to.deep.equal([1, 2, 3]);
    const stored = await app.db('sessions').where({ id: sid }).first('last_active_at', 'device_ref');
    expect(stored.last_active_at.getTime()).to.equal(app.clock.now().getTime());
    const device = await app.db('devices').where({ id: stored.device_ref }).first('last_active_at');
    expect(device.last_active_at.getTime()).to.equal(app.clock.now().getTime());
  });

  it('a session in an organization, with a temporary role, is one statement, its token carrying both (and ending with the grant)', async () => {
    const owner = await loggedInUser(app);
    const org = await createOrganization(app, owner);
    const switched = await sdk.setActiveOrganization({ client: app.client, auth: owner.session.access_token, body: { organization_id: org.id } });
    expect(switched.error, JSON.stringify(switched.error)).to.equal(undefined);
    await grantRoleDirectly(app, owner.user.id, 'premium', new Date(app.clock.now().getTime() + 120_000));
    const warm = await refreshCounted(switched.data!.refresh_token);
    const counted = await refreshCounted(warm.tokens.refresh_token);
    expect(counted.statements).to.have.length(1);
    const claims = decodeJwt(counted.tokens.access_token);
    expect(claims).to.include({ org_id: org.id, org_role: 'owner', plan: 'trial' });
    expect(claims.roles).to.include('premium');
    expect(counted.tokens.expires_in).to.equal(120);
  });

  it('a policy edit is judged afresh: the next refresh takes two statements again', async () => {
    const { name, session } = await userOfNewType();
    const warm = await refreshCounted(session.refresh_token);
    const edited = await sdk.putActorType({ client: app.client, auth: adminToken, path: { name }, body: actorTypePolicy({ self_signup: true, allowed_methods: ['password', 'sms'] }) });
    expect(edited.error, JSON.stringify(edited.error)).to.equal(undefined);
    const afterEdit = await refreshCounted(warm.tokens.refresh_token);
    expect(afterEdit.statements).to.have.length(2);
    onlyRefreshStatements(afterEdit.statements);
  });

  it('a refresh refused for a withdrawn method leaves the family, the session and the device as they were', async () => {
    const name = await createCustomActorType(app, adminToken, created, { self_signup: true });
    const { session } = await loggedInUser(app, { user_type: name }, { device: { name: 'Tablet', type: 'android' } });
    const warm = await refreshCounted(session.refresh_token);
    const sid = decodeJwt(session.access_token).sid as string;
    const before = await app.db('sessions').where({ id: sid }).first('last_active_at', 'device_ref');
    const deviceBefore = await app.db('devices').where({ id: before.device_ref }).first('last_active_at');
    app.clock.advance(1000);
    const withdrawn = await sdk.putActorType({ client: app.client, auth: adminToken, path: { name }, body: actorTypePolicy({ self_signup: true, allowed_methods: ['sms'] }) });
    expect(withdrawn.error, JSON.stringify(withdrawn.error)).to.equal(undefined);
    expectProblem(await refresh(warm.tokens.refresh_token), 401, 'session_revoked');
    const family = await app.db('refresh_tokens').where({ session_id: sid }).orderBy('generation');
    expect(family.map((r) => [r.generation, r.rotated_at === null])).to.deep.equal([
      [1, false],
      [2, true],
    ]);
    const after = await app.db('sessions').where({ id: sid }).first('last_active_at', 'revoked_reason');
    expect(after.last_active_at.getTime()).to.equal(before.last_active_at.getTime());
    expect(after.revoked_reason).to.equal('auth_method_not_allowed');
    const deviceAfter = await app.db('devices').where({ id: before.device_ref }).first('last_active_at');
    expect(deviceAfter.last_active_at.getTime()).to.equal(deviceBefore.last_active_at.getTime());
  });
});
