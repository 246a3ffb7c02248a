import { createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { hasValidChecksum } from '../../../src/modules/api-keys/key-format.js';
import { loadSpec } from '../../../src/shared/spec.js';
import { startTestApp, type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser } from '../../helpers/flows.js';
import { createOrganization, memberWithRole, type SignedIn } from '../../helpers/organizations.js';
import { grantRoleDirectly, userWithRole } from '../../helpers/rbac.js';

/** The gateway route runs ahead of the response validator: its key answers are checked against the spec here. */
function verifiedApiKeySchema() {
  const ajv = new Ajv({ strict: false, allErrors: true, formats: { uuid: /^[0-9a-f-]{36}$/i, 'date-time': /^\d{4}-\d\d-\d\dT/ } });
  ajv.addSchema(loadSpec({ devRoutes: true }), 'spec');
  return ajv.compile({ $ref: 'spec#/components/schemas/VerifiedApiKey' });
}

export async function createKey(app: TestApp, owner: SignedIn, body: Partial<sdk.ApiKeyCreateRequest> = {}): Promise<sdk.ApiKeyWithSecret> {
  const { data, error } = await sdk.createApiKey({ client: app.client, auth: owner.session.access_token, body: { name: 'Catalogue sync', permissions: [], ...body } });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  return data!;
}

const withKey = (secret: string) => ({ headers: { 'x-api-key': secret } });

describe('API keys', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));
  const matchesSpec = verifiedApiKeySchema();
  const verifyKey = (secret: string) => sdk.verifyTokenGet({ client: app.client, ...withKey(secret) });

  describe('the secret', () => {
    it('is shown once, in the documented format with a checksum a scanner can check offline, and stored only as its SHA-256', async () => {
      const owner = await loggedInUser(app);
      const created = await sdk.createApiKey({ client: app.client, auth: owner.session.access_token, body: { name: 'Catalogue sync', permissions: ['quiz:play:free'] } });
      expect(created.response?.status).to.equal(201);
      expect(created.response!.headers.get('cache-control')).to.equal('no-store');
      const key = created.data!;
      expect(key.secret).to.match(/^czo_[0-9A-Za-z]{42}$/);
      expect(hasValidChecksum(key.secret)).to.equal(true);
      const flipped = key.secret.slice(0, 10) + (key.secret[10] === 'a' ? 'b' : 'a') + key.secret.slice(11);
      expect(hasValidChecksum(flipped)).to.equal(false);
      expect(key).to.deep.include({ name: 'Catalogue sync', prefix: 'czo_', last_four: key.secret.slice(-4), permissions: ['quiz:play:free'], organization_id: null, last_used_at: null, expires_at: null });

      const row = await app.db('api_keys').where({ id: key.id }).first();
      expect(row.secret_hash).to.equal(createHash('sha256').update(key.secret).digest('hex'));
      expect(JSON.stringify(row)).to.not.include(key.secret.slice(4));
    });

    it('is never listed: the list shows prefix, last four, name, permissions, dates — and no secret', async () => {
      const owner = await loggedInUser(app);
      const a = await createKey(app, owner, { name: 'first' });
      app.clock.advance(1000);
      const b = await createKey(app, owner, { name: 'second', expires_at: new Date(app.clock.now().getTime() + 3600_000).toISOString() });
      const list = await sdk.listApiKeys({ client: app.client, auth: owner.session.access_token });
      expect(list.data!.items.map((k) => k.id)).to.deep.equal([b.id, a.id]);
      const text = JSON.stringify(list.data);
      expect(text).to.not.include(a.secret.slice(4)).and.not.include(b.secret.slice(4)).and.not.include('secret"');
      expect(list.data!.items[0]).to.have.all.keys('id', 'name', 'prefix', 'last_four', 'permissions', 'organization_id', 'created_at', 'last_used_at', 'expires_at', 'rotated_at', 'previous_secret_expires_at');
      expect((await sdk.listApiKeys({ client: app.client, auth: (await loggedInUser(app)).session.access_token })).data!.items).to.deep.equal([]);
    });

    it('an unknown key, a key with a wrong checksum and a key of no known format are 401 invalid_api_key', async () => {
      const owner = await loggedInUser(app);
      const key = await createKey(app, owner);
      const body = `czo_${'A'.repeat(36)}`;
      const { checksumOf } = await import('../../../src/modules/api-keys/key-format.js');
      expectProblem(await verifyKey(body + checksumOf(body)), 401, 'invalid_api_key');
      expectProblem(await verifyKey(`${key.secret.slice(0, -1)}${key.secret.endsWith('0') ? '1' : '0'}`), 401, 'invalid_api_key');
      expectProblem(await verifyKey('not-a-key'), 401, 'invalid_api_key');
      expectProblem(await sdk.checkPermission({ client: app.client, ...withKey('czo_short'), body: { user_id: owner.user.id, permission: 'quiz:play:free' } }), 401, 'invalid_api_key');
    });

    it('cannot manage keys (only a session can): X-API-Key alone on /api-keys is 401', async () => {
      const owner = await loggedInUser(app);
      const key = await createKey(app, owner);
      expectProblem(await sdk.listApiKeys({ client: app.client, ...withKey(key.secret) }), 401, 'authentication_required');
    });
  });

  describe('the service endpoints', () => {
    it('verify answers the owner, the permissions and the key id (body and headers), and records no write per request', async () => {
      const owner = await loggedInUser(app);
      const key = await createKey(app, owner, { permissions: ['quiz:play:free'] });
      const writes: string[] = [];
      const listen = (q: { sql: string }) => /^\s*(update|insert|delete)/i.test(q.sql) && writes.push(q.sql);
      app.db.on('query', listen);
      const results = [await verifyKey(key.secret), await verifyKey(key.secret), await sdk.verifyToken({ client: app.client, ...withKey(key.secret) })];
      app.db.off('query', listen);
      expect(writes).to.deep.equal([]);
      for (const result of results) {
        expect(result.response?.status).to.equal(200);
        expect(matchesSpec(result.data), JSON.stringify(matchesSpec.errors)).to.equal(true);
      }
      expect(results[0]!.data).to.deep.equal({ active: true, credential: 'api_key', key_id: key.id, sub: owner.user.id, permissions: ['quiz:play:free'], status: 'active', is_guest: false, expires_at: null });
      const h = results[0]!.response!.headers;
      expect([h.get('x-user-id'), h.get('x-api-key-id'), h.get('x-permissions'), h.get('x-status'), h.get('x-session-id')]).to.deep.equal([owner.user.id, key.id, 'quiz:play:free', 'active', null]);
      expect((await app.db('api_keys').where({ id: key.id }).first('last_used_at')).last_used_at).to.equal(null);
      await app.running.container.apiKeyUsage.flush();
      expect((await app.db('api_keys').where({ id: key.id }).first('last_used_at')).last_used_at.getTime()).to.equal(app.clock.now().getTime());
      expect((await sdk.listApiKeys({ client: app.client, auth: owner.session.access_token })).data!.items[0]!.last_used_at).to.equal(app.clock.now().toISOString());
    });

    it('the SDK sends a key under both schemes; two different credentials are 401 ambiguous_credentials', async () => {
      const owner = await loggedInUser(app);
      const key = await createKey(app, owner);
      expect((await sdk.verifyTokenGet({ client: app.client, auth: key.secret })).response?.status).to.equal(200);
      expect((await sdk.checkPermission({ client: app.client, auth: key.secret, body: { user_id: owner.user.id, permission: 'quiz:play:free' } })).data!.allowed).to.equal(true);
      expect((await sdk.checkPermission({ client: app.client, auth: owner.session.access_token, body: { user_id: owner.user.id, permission: 'quiz:play:free' } })).response?.status).to.equal(200);
      const both = { headers: { authorization: `Bearer ${owner.session.access_token}`, 'x-api-key': key.secret } };
      expectProblem(await sdk.verifyTokenGet({ client: app.client, ...both }), 401, 'ambiguous_credentials');
      expectProblem(await sdk.checkPermission({ client: app.client, ...both, body: { user_id: owner.user.id, permission: 'quiz:play:free' } }), 401, 'ambiguous_credentials');
    });

    it('the permission check and quota consume/renew accept a key, within what it was given', async () => {
      const service = await userWithRole(app, 'admin');
      const key = await createKey(app, service, { permissions: ['sesame:check:permissions', 'sesame:write:quotas'] });
      const player = await loggedInUser(app);
      const checked = await sdk.checkPermission({ client: app.client, ...withKey(key.secret), body: { user_id: player.user.id, permission: 'quiz:play:free' } });
      expect(checked.data).to.deep.include({ allowed: true, reason: 'granted' });
      const consumed = await sdk.consumeQuota({ client: app.client, ...withKey(key.secret), path: { user_id: player.user.id }, body: { quota_type: 'quiz_plays', amount: 2 } });
      expect(consumed.response?.status, JSON.stringify(consumed.error)).to.equal(200);
      const renewed = await sdk.renewQuota({ client: app.client, ...withKey(key.secret), path: { user_id: player.user.id }, body: { quota_type: 'quiz_plays', renew_action: 'watch_ad', ad_id: 'ad-1' } });
      expect(renewed.data!.current_usage).to.equal(0);
      const audit = await app.db('audit_logs').where({ user_id: player.user.id, event: 'quota.renewed' }).first('actor_id', 'details');
      expect(audit).to.deep.include({ actor_id: service.user.id });
      expect(audit.details).to.deep.include({ api_key_id: key.id });

      // A key without the permissions: refused, though its owner (an admin) holds them.
      const narrow = await createKey(app, service, { permissions: ['quiz:play:free'] });
      expectProblem(await sdk.checkPermission({ client: app.client, ...withKey(narrow.secret), body: { user_id: player.user.id, permission: 'quiz:play:free' } }), 403, 'permission_denied');
      expectProblem(await sdk.renewQuota({ client: app.client, ...withKey(narrow.secret), path: { user_id: player.user.id }, body: { quota_type: 'quiz_plays', renew_action: 'watch_ad' } }), 403, 'permission_denied');
      expectProblem(await sdk.consumeQuota({ client: app.client, ...withKey(narrow.secret), path: { user_id: player.user.id }, body: { quota_type: 'quiz_plays' } }), 404, 'user_not_found');
    });
  });

  describe('no escalation', () => {
    it('a key cannot hold what its creator does not (403 privilege_escalation), wildcards included', async () => {
      const user = await loggedInUser(app);
      expectProblem(await sdk.createApiKey({ client: app.client, auth: user.session.access_token, body: { name: 'x', permissions: ['sesame:check:permissions'] } }), 403, 'privilege_escalation');
      expectProblem(await sdk.createApiKey({ client: app.client, auth: user.session.access_token, body: { name: 'x', permissions: ['quiz:*:free'] } }), 403, 'privilege_escalation');
      expect(await app.db('api_keys').where({ user_id: user.user.id }).count('* as n').first()).to.deep.equal({ n: '0' });
      const admin = await userWithRole(app, 'admin');
      expect((await createKey(app, admin, { permissions: ['quiz:*:*', 'sesame:check:permissions'] })).permissions).to.deep.equal(['quiz:*:*', 'sesame:check:permissions']);
    });

    it('a key loses a permission at once when its owner does', async () => {
      const owner = await userWithRole(app, 'admin');
      const key = await createKey(app, owner, { permissions: ['sesame:check:permissions'] });
      const player = await loggedInUser(app);
      const check = () => sdk.checkPermission({ client: app.client, ...withKey(key.secret), body: { user_id: player.user.id, permission: 'quiz:play:free' } });
      expect((await check()).response?.status).to.equal(200);
      expect((await verifyKey(key.secret)).data!.permissions).to.deep.equal(['sesame:check:permissions']);
      await app.db('user_roles').where({ user_id: owner.user.id }).whereIn('role_id', app.db('roles').where({ name: 'admin' }).select('id')).delete();
      expectProblem(await check(), 403, 'permission_denied');
      expect((await verifyKey(key.secret)).data!.permissions).to.deep.equal([]);
      await grantRoleDirectly(app, owner.user.id, 'admin');
      expect((await check()).response?.status).to.equal(200);
    });
  });

  describe('lifetime', () => {
    it('revoking stops the key; revoking another user’s key is 404 api_key_not_found; audited', async () => {
      const owner = await loggedInUser(app);
      const key = await createKey(app, owner);
      const other = await loggedInUser(app);
      expectProblem(await sdk.revokeApiKey({ client: app.client, auth: other.session.access_token, path: { key_id: key.id } }), 404, 'api_key_not_found');
      expect((await verifyKey(key.secret)).response?.status).to.equal(200);
      expect((await sdk.revokeApiKey({ client: app.client, auth: owner.session.access_token, path: { key_id: key.id } })).response?.status).to.equal(204);
      expectProblem(await verifyKey(key.secret), 401, 'invalid_api_key');
      expectProblem(await sdk.revokeApiKey({ client: app.client, auth: owner.session.access_token, path: { key_id: key.id } }), 404, 'api_key_not_found');
      expect((await sdk.listApiKeys({ client: app.client, auth: owner.session.access_token })).data!.items).to.deep.equal([]);
      const events = await app.db('audit_logs').where({ user_id: owner.user.id }).where('event', 'like', 'api_key.%').orderBy('event').pluck('event');
      expect(events).to.deep.equal(['api_key.created', 'api_key.revoked']);
    });

    it('rotation: a new secret at once, the previous one for the stated grace, then only the new one', async () => {
      const owner = await loggedInUser(app);
      const key = await createKey(app, owner);
      const rotated = await sdk.rotateApiKey({ client: app.client, auth: owner.session.access_token, path: { key_id: key.id }, body: { grace_seconds: 60 } });
      const fresh = rotated.data!;
      expect(fresh.id).to.equal(key.id);
      expect(fresh.secret).to.not.equal(key.secret);
      expect(fresh.previous_secret_expires_at).to.equal(new Date(app.clock.now().getTime() + 60_000).toISOString());
      expect((await verifyKey(fresh.secret)).response?.status).to.equal(200);
      expect((await verifyKey(key.secret)).response?.status).to.equal(200);
      app.clock.advance(60_000);
      expectProblem(await verifyKey(key.secret), 401, 'invalid_api_key');
      expect((await verifyKey(fresh.secret)).response?.status).to.equal(200);

      const again = (await sdk.rotateApiKey({ client: app.client, auth: owner.session.access_token, path: { key_id: key.id }, body: { grace_seconds: 0 } })).data!;
      expect(again.previous_secret_expires_at).to.equal(null);
      expectProblem(await verifyKey(fresh.secret), 401, 'invalid_api_key');
      const byDefault = (await sdk.rotateApiKey({ client: app.client, auth: owner.session.access_token, path: { key_id: key.id } })).data!;
      expect(byDefault.previous_secret_expires_at).to.equal(new Date(app.clock.now().getTime() + 86_400_000).toISOString());
      expect(await app.db('audit_logs').where({ user_id: owner.user.id, event: 'api_key.rotated' }).count('* as n').first()).to.deep.equal({ n: '3' });
    });

    it('an expiring key stops at its time; an expiry in the past is refused (400)', async () => {
      const owner = await loggedInUser(app);
      const key = await createKey(app, owner, { expires_at: new Date(app.clock.now().getTime() + 60_000).toISOString() });
      expect((await verifyKey(key.secret)).data).to.deep.include({ expires_at: key.expires_at });
      app.clock.advance(60_000);
      expectProblem(await verifyKey(key.secret), 401, 'invalid_api_key');
      const past = await sdk.createApiKey({ client: app.client, auth: owner.session.access_token, body: { name: 'x', permissions: [], expires_at: new Date(app.clock.now().getTime() - 1000).toISOString() } });
      expect(expectProblem(past, 400, 'validation_failed').errors).to.deep.equal([{ path: '/body/expires_at', message: 'must be in the future' }]);
    });

    it('keys die with their owner’s account, and stop while the owner is suspended', async () => {
      const suspended = await loggedInUser(app);
      const key = await createKey(app, suspended);
      await app.db('users').where({ id: suspended.user.id }).update({ status: 'suspended' });
      expectProblem(await verifyKey(key.secret), 401, 'invalid_api_key');
      await app.db('users').where({ id: suspended.user.id }).update({ status: 'active' });
      expect((await verifyKey(key.secret)).response?.status).to.equal(200);

      const leaving = await loggedInUser(app);
      const gone = await createKey(app, leaving);
      await sdk.deleteUser({ client: app.client, auth: leaving.session.access_token, path: { user_id: leaving.user.id } });
      expectProblem(await verifyKey(gone.secret), 401, 'invalid_api_key');
    });
  });

  describe('organization keys', () => {
    it('need an owner or admin of the organization (a member 403, an outsider 404)', async () => {
      const owner = await loggedInUser(app);
      const org = await createOrganization(app, owner);
      const member = await memberWithRole(app, org.id, 'member');
      expectProblem(await sdk.createApiKey({ client: app.client, auth: member.session.access_token, body: { name: 'x', permissions: [], organization_id: org.id } }), 403, 'permission_denied');
      const admin = await memberWithRole(app, org.id, 'admin');
      const key = await createKey(app, admin, { organization_id: org.id, permissions: ['quiz:play:free'] });
      expect(key.organization_id).to.equal(org.id);
      const verified = await verifyKey(key.secret);
      expect(verified.data).to.deep.include({ org_id: org.id, org_role: 'admin', sub: admin.user.id });
      expect(verified.response!.headers.get('x-org-id')).to.equal(org.id);
      expect(matchesSpec(verified.data)).to.equal(true);
    });

    it('check permissions in their organization only; stop when their owner is removed or demoted, or the organization is deleted', async () => {
      const owner = await loggedInUser(app);
      const org = await createOrganization(app, owner);
      const admin = await memberWithRole(app, org.id, 'admin');
      const member = await memberWithRole(app, org.id, 'member');
      const key = await createKey(app, admin, { organization_id: org.id });
      const check = (organizationId?: string) =>
        sdk.checkPermission({ client: app.client, ...withKey(key.secret), body: { user_id: admin.user.id, permission: 'org:write:members', ...(organizationId ? { organization_id: organizationId } : {}) } });
      expect((await check()).data).to.deep.include({ allowed: true, organization_id: org.id, org_role: 'admin' });
      const elsewhere = await createOrganization(app, admin);
      expectProblem(await check(elsewhere.id), 403, 'permission_denied');

      await sdk.updateMember({ client: app.client, auth: owner.session.access_token, path: { org_id: org.id, user_id: admin.user.id }, body: { role: 'member' } });
      expectProblem(await verifyKey(key.secret), 401, 'invalid_api_key');
      await sdk.updateMember({ client: app.client, auth: owner.session.access_token, path: { org_id: org.id, user_id: admin.user.id }, body: { role: 'admin' } });
      expect((await verifyKey(key.secret)).response?.status).to.equal(200);

      await sdk.removeMember({ client: app.client, auth: owner.session.access_token, path: { org_id: org.id, user_id: admin.user.id } });
      expectProblem(await verifyKey(key.secret), 401, 'invalid_api_key');
      expect((await sdk.listApiKeys({ client: app.client, auth: admin.session.access_token })).data!.items.map((k) => k.id)).to.not.include(key.id);

      const ownerKey = await createKey(app, owner, { organization_id: org.id });
      await sdk.removeMember({ client: app.client, auth: owner.session.access_token, path: { org_id: org.id, user_id: member.user.id } });
      expect((await verifyKey(ownerKey.secret)).response?.status).to.equal(200);
      await sdk.deleteOrganization({ client: app.client, auth: owner.session.access_token, path: { org_id: org.id } });
      expectProblem(await verifyKey(ownerKey.secret), 401, 'invalid_api_key');
    });
  });
});

describe('API keys on two instances', () => {
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    [a, b] = await Promise.all([startTestApp(), startTestApp()]);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('a key revoked on one instance is refused at once by the other', async () => {
    const owner = await loggedInUser(a);
    const key = await createKey(a, owner);
    const verifyOn = (app: TestApp) => sdk.verifyTokenGet({ client: app.client, ...withKey(key.secret) });
    expect((await verifyOn(b)).response?.status).to.equal(200);
    await sdk.revokeApiKey({ client: a.client, auth: owner.session.access_token, path: { key_id: key.id } });
    expectProblem(await verifyOn(b), 401, 'invalid_api_key');
    expectProblem(await verifyOn(a), 401, 'invalid_api_key');
  });
});

describe('API keys: their own rate limit', () => {
  let app: TestApp;
  useTestApp((started) => (app = started), { env: { RATE_LIMIT_API_KEY: '3/1m', API_KEY_PREFIX: 'acme_' } });

  it('counts per key (429 with Retry-After and RateLimit-*), across the endpoints and the rotated secrets; an unknown key stays 401; sessions are not counted', async () => {
    const owner = await userWithRole(app, 'admin');
    const key = await createKey(app, owner, { permissions: ['sesame:check:permissions'] });
    expect(key.secret).to.match(/^acme_[0-9A-Za-z]{42}$/);
    const verify = (secret: string) => sdk.verifyTokenGet({ client: app.client, ...withKey(secret) });
    const check = (secret: string) => sdk.checkPermission({ client: app.client, ...withKey(secret), body: { user_id: owner.user.id, permission: 'quiz:play:free' } });

    const first = await verify(key.secret);
    expect(first.response!.headers.get('ratelimit-limit')).to.equal('3');
    expect(first.response!.headers.get('ratelimit-remaining')).to.equal('2');
    expect((await check(key.secret)).response?.status).to.equal(200);
    const rotated = (await sdk.rotateApiKey({ client: app.client, auth: owner.session.access_token, path: { key_id: key.id }, body: { grace_seconds: 300 } })).data!;
    expect((await verify(rotated.secret)).response?.status).to.equal(200);
    for (const limited of [await verify(key.secret), await check(rotated.secret)]) {
      expectProblem(limited, 429, 'rate_limited');
      expect(Number(limited.response!.headers.get('retry-after'))).to.be.within(1, 60);
      expect(limited.response!.headers.get('ratelimit-remaining')).to.equal('0');
    }
    // Never confused: an unknown key is 401, not 429; another key has its own counter; a session is not limited by it.
    expectProblem(await verify(`acme_${'B'.repeat(42)}`), 401, 'invalid_api_key');
    const other = await createKey(app, owner);
    expect((await verify(other.secret)).response?.status).to.equal(200);
    for (let i = 0; i < 4; i++) {
      const bySession = await sdk.checkPermission({ client: app.client, auth: owner.session.access_token, body: { user_id: owner.user.id, permission: 'quiz:play:free' } });
      expect(bySession.response?.status).to.equal(200);
    }
  });
});
