import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { actorTypesRepo } from '../../../src/identity/actor-types.repo.js';
import { actorTypePolicy, customActorTypeName, removeCustomActorTypesAfter } from '../../helpers/actor-types.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, registerBody, registerUser, tokensOf } from '../../helpers/flows.js';
import type { AuditRow } from '../../helpers/probes.js';
import { adminUser } from '../../helpers/rbac.js';

describe('actor-type policies (GET /actor-types, PUT /admin/actor-types/{name})', () => {
  let app: TestApp;
  let adminToken: string;
  const created: string[] = [];

  const customName = () => customActorTypeName(created);
  const policy = (overrides: Partial<sdk.ActorTypePolicy> = {}): sdk.ActorTypePolicy => actorTypePolicy({ description: 'A type made by a test', ...overrides });
  const put = (name: string, body: sdk.ActorTypePolicy, token = adminToken) => sdk.putActorType({ client: app.client, auth: token, path: { name }, body });
  async function putOk(name: string, body: sdk.ActorTypePolicy): Promise<sdk.ActorType> {
    const { data, error } = await put(name, body);
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return data!;
  }
  async function activeUser(overrides: Partial<sdk.RegisterRequest> = {}) {
    const registered = await registerUser(app, overrides);
    const verified = await sdk.verifyEmail({ client: app.client, body: { token: registered.verificationToken } });
    expect(verified.error, JSON.stringify(verified.error)).to.equal(undefined);
    return { id: registered.user.id, email: registered.body.email, password: registered.body.password };
  }
  const login = async (who: { email: string; password: string }, extra: Partial<sdk.LoginRequest> = {}) => {
    const { data, error } = await sdk.login({ client: app.client, body: { email: who.email, password: who.password, ...extra } });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return tokensOf(data);
  };
  const sessionExpiry = async (accessToken: string) => (await app.db('sessions').where({ id: decodeJwt(accessToken).sid }).first('expires_at')).expires_at as Date;

  removeCustomActorTypesAfter(() => app, created);
  useTestApp((started) => (app = started));
  before(async () => {
    adminToken = (await adminUser(app)).session.access_token;
  });

  describe('GET /actor-types', () => {
    it('lists every type, public fields only, by priority then name, in one page, without a token', async () => {
      const name = customName();
      await putOk(name, policy({ description: 'Listed', allowed_methods: ['password', 'google'], self_signup: true, priority: 15 }));
      const { data, response } = await sdk.listActorTypes({ client: app.client });
      expect(response?.status).to.equal(200);
      expect(data!.next_cursor).to.equal(null);
      for (const item of data!.items) expect(Object.keys(item).sort(), item.name).to.deep.equal(['allowed_methods', 'description', 'name', 'require_2fa', 'self_signup']);
      const rows: Array<{ name: string; priority: number }> = await app.db('actor_types').whereIn('name', data!.items.map((t) => t.name)).select('name', 'priority');
      const priority = new Map(rows.map((r) => [r.name, r.priority]));
      const listed = data!.items.map((t) => ({ name: t.name, priority: priority.get(t.name)! }));
      const sorted = [...listed].sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      expect(listed).to.deep.equal(sorted);
      expect(data!.items.map((t) => t.name)).to.include.members(['admin', 'agent', 'business', 'citizen', 'customer', 'guest', 'merchant', name]);
      const byName = new Map(data!.items.map((t) => [t.name, t]));
      expect(byName.get(name)).to.deep.equal({ name, description: 'Listed', allowed_methods: ['password', 'google'], self_signup: true, require_2fa: false });
      expect(byName.get('admin')).to.include({ self_signup: false, require_2fa: true });
      expect(byName.get('guest')!.allowed_methods).to.deep.equal(['guest']);
    });

    it('refuses query parameters (the catalogue is one page)', async () => {
      const response = await fetch(`${app.url}/api/v1/actor-types?limit=5`);
      expect(response.status).to.equal(400);
    });
  });

  describe('PUT /admin/actor-types/{name}', () => {
    it('creates (201), then fully replaces (200) a policy, audited each time', async () => {
      const name = customName();
      const first = policy({ allowed_methods: ['password', 'sms'], self_signup: true, require_2fa: true, access_token_ttl: 600, session_duration: 7200, allow_impersonation: true, priority: 42 });
      const createdAnswer = await put(name, first);
      expect(createdAnswer.response?.status).to.equal(201);
      expect(createdAnswer.data).to.deep.equal({ name, ...first, updated_at: app.clock.now().toISOString() });

      app.clock.advance(60_000);
      const second: sdk.ActorTypePolicy = { allowed_methods: ['google'], self_signup: false, require_2fa: false, access_token_ttl: 1800, session_duration: 604800, allow_impersonation: false, priority: 7 };
      const replaced = await put(name, second);
      expect(replaced.response?.status).to.equal(200);
      expect(replaced.data).to.deep.equal({ name, ...second, description: '', updated_at: app.clock.now().toISOString() });
      expect(await app.db('actor_types').where({ name }).first('allowed_methods', 'self_signup', 'require_2fa', 'priority', 'description')).to.deep.equal({
        allowed_methods: ['google'],
        self_signup: false,
        require_2fa: false,
        priority: 7,
        description: '',
      });

      const audits: AuditRow[] = await app.db('audit_logs').where({ event: 'actor_type.updated' }).whereRaw(`details->>'name' = ?`, [name]).orderBy('created_at');
      expect(audits.map((a) => a.details.created)).to.deep.equal([true, false]);
      expect(audits[0]!.user_id).to.equal(decodeJwt(adminToken).sub);
      expect(audits[0]!.details.policy).to.deep.equal(first);
      expect(audits[1]!.details.policy).to.deep.equal({ ...second, description: '' });
    });

    it('refuses a caller without sesame:write:actor_types (403) and without a token (401); nothing is created', async () => {
      const name = customName();
      const { session } = await loggedInUser(app);
      expectProblem(await put(name, policy(), session.access_token), 403, 'permission_denied');
      expectProblem(await sdk.putActorType({ client: app.client, path: { name }, body: policy() }), 401, 'authentication_required');
      expect(await app.db('actor_types').where({ name }).first()).to.equal(undefined);
    });

    it('keeps admin never self-signup and always 2FA (400 naming the field); the seeded row is untouched', async () => {
      const before = await app.db('actor_types').where({ name: 'admin' }).first();
      const selfSignup = expectProblem(await put('admin', policy({ self_signup: true, require_2fa: true, priority: 100 })), 400, 'invalid_actor_type_policy');
      expect(selfSignup.errors!.map((e) => e.path)).to.deep.equal(['/body/self_signup']);
      const no2fa = expectProblem(await put('admin', policy({ self_signup: false, require_2fa: false, priority: 100 })), 400, 'invalid_actor_type_policy');
      expect(no2fa.errors!.map((e) => e.path)).to.deep.equal(['/body/require_2fa']);
      expect(await app.db('actor_types').where({ name: 'admin' }).first()).to.deep.equal(before);
    });

    it('rejects a policy the schema forbids (unknown method, too short a lifetime)', async () => {
      const name = customName();
      expect((await put(name, policy({ allowed_methods: ['telepathy' as sdk.AuthMethod] }))).response?.status).to.equal(400);
      expect((await put(name, policy({ access_token_ttl: 5 }))).response?.status).to.equal(400);
      expect(await app.db('actor_types').where({ name }).first()).to.equal(undefined);
    });
  });

  describe('the policy at registration and login', () => {
    it('registration needs a self-signup type, and an edit applies at once', async () => {
      const name = customName();
      await putOk(name, policy({ self_signup: false }));
      expectProblem(await sdk.register({ client: app.client, body: registerBody({ user_type: name }) }), 400, 'actor_type_not_allowed');
      await putOk(name, policy({ self_signup: true }));
      const { data, error } = await sdk.register({ client: app.client, body: registerBody({ user_type: name }) });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(data!.user.actor_types).to.deep.equal([name]);
    });

    it('gives sessions the type’s token and session lifetimes, and new logins follow an edit at once', async () => {
      const name = customName();
      await putOk(name, policy({ self_signup: true, access_token_ttl: 120, session_duration: 3600 }));
      const who = await activeUser({ user_type: name });
      const session = await login(who);
      expect(session.expires_in).to.equal(120);
      const claims = decodeJwt(session.access_token);
      expect(claims.exp! - claims.iat!).to.equal(120);
      expect(claims.actor_type).to.equal(name);
      expect((await sessionExpiry(session.access_token)).getTime()).to.equal(app.clock.now().getTime() + 3600_000);

      await putOk(name, policy({ self_signup: true, access_token_ttl: 300, session_duration: 7200 }));
      const after = await login(who);
      expect(after.expires_in).to.equal(300);
      expect((await sessionExpiry(after.access_token)).getTime()).to.equal(app.clock.now().getTime() + 7200_000);
    });

    it('the strictest held type governs: its lifetimes apply when acting as a laxer one, and it is the default', async () => {
      const low = customName();
      const high = customName();
      await putOk(low, policy({ self_signup: true, priority: 5, access_token_ttl: 1800, session_duration: 604800 }));
      await putOk(high, policy({ priority: 900, access_token_ttl: 240, session_duration: 5400 }));
      const who = await activeUser({ user_type: low });
      await actorTypesRepo.grant(app.db, who.id, high);

      const asLow = await login(who, { actor_type: low });
      expect(decodeJwt(asLow.access_token).actor_type).to.equal(low);
      expect(asLow.expires_in).to.equal(240);
      expect((await sessionExpiry(asLow.access_token)).getTime()).to.equal(app.clock.now().getTime() + 5400_000);

      const byDefault = await login(who);
      expect(decodeJwt(byDefault.access_token).actor_type).to.equal(high);
      expect(byDefault.expires_in).to.equal(240);
    });

    it('a refresh after the session’s method was removed from its type: 401, and the session is revoked', async () => {
      const name = customName();
      await putOk(name, policy({ self_signup: true }));
      const who = await activeUser({ user_type: name });
      const session = await login(who);
      const refreshed = await sdk.refreshToken({ client: app.client, body: { refresh_token: session.refresh_token } });
      expect(refreshed.error, JSON.stringify(refreshed.error)).to.equal(undefined);

      await putOk(name, policy({ self_signup: true, allowed_methods: ['google'] }));
      expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: refreshed.data!.refresh_token } }), 401, 'session_revoked');
      const sid = decodeJwt(session.access_token).sid as string;
      const row = await app.db('sessions').where({ id: sid }).first('revoked_at', 'revoked_reason');
      expect(row.revoked_at).to.be.an.instanceOf(Date);
      expect(row.revoked_reason).to.equal('auth_method_not_allowed');
      expectProblem(await sdk.getProfile({ client: app.client, auth: refreshed.data!.access_token }), 401, 'session_revoked');
      const audit: AuditRow | undefined = await app.db('audit_logs').where({ event: 'session.revoked', session_id: sid }).first();
      expect(audit?.details).to.deep.equal({ reason: 'auth_method_not_allowed' });
    });
  });
});
