import { Ajv } from 'ajv';
import { expect } from 'chai';
import { SignJWT, decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { ManualClock } from '../../../src/infra/clock.js';
import type { VerifiedAccessToken } from '../../../src/infra/tokens.js';
import { VerifiedTokenCache } from '../../../src/modules/gateway/verified-token-cache.js';
import { AppError } from '../../../src/shared/errors.js';
import { loadSpec } from '../../../src/shared/spec.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, registerUser } from '../../helpers/flows.js';
import { grantRoleDirectly } from '../../helpers/rbac.js';

/**
 * The route runs ahead of the OpenAPI validator, whose response validation never sees it: each
 * 200 body is checked here against the spec's VerifiedToken schema instead.
 */
function verifiedTokenSchemaCheck() {
  const ajv = new Ajv({ strict: false, allErrors: true, formats: { uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i } });
  ajv.addSchema(loadSpec({ devRoutes: true }), 'spec');
  return ajv.compile({ $ref: 'spec#/components/schemas/VerifiedToken' });
}

type VerifyResult = { data?: sdk.VerifiedCredential; error?: unknown; response?: Response };

describe('gateway token verification (GET|POST /api/v1/auth/verify)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));
  const matchesSpec = verifiedTokenSchemaCheck();

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const verifyGet = (token?: string) => sdk.verifyTokenGet({ client: app.client, headers: token === undefined ? {} : bearer(token) });
  const verifyPost = (body: sdk.VerifyRequest | undefined, header?: string) =>
    sdk.verifyToken({ client: app.client, body, headers: header === undefined ? {} : bearer(header) });

  /** A 200 whose body matches the contract; returns the claims. */
  function expectVerified(result: VerifyResult): sdk.VerifiedToken {
    expect(result.response?.status, JSON.stringify(result.error)).to.equal(200);
    expect(matchesSpec(result.data), JSON.stringify(matchesSpec.errors)).to.equal(true);
    expect(result.response!.headers.get('cache-control')).to.equal('no-store');
    return result.data as sdk.VerifiedToken;
  }

  /** A 401 problem with the bearer challenge a client can act on. */
  function expectRefused(result: VerifyResult, code: string): void {
    expectProblem(result, 401, code);
    const challenge = code === 'authentication_required' ? 'Bearer realm="sesame"' : 'Bearer realm="sesame", error="invalid_token"';
    expect(result.response!.headers.get('www-authenticate')).to.equal(challenge);
  }

  describe('a valid token', () => {
    it('GET: the claims of a fresh user in the body and the gateway headers', async () => {
      const { user, session } = await loggedInUser(app);
      const result = await verifyGet(session.access_token);
      const claims = expectVerified(result);
      const jwt = decodeJwt(session.access_token);
      expect(claims).to.deep.include({ active: true, sub: user.id, sid: jwt.sid, jti: jwt.jti, actor_type: 'citizen', status: 'active', plan: 'free', is_guest: false, iat: jwt.iat, exp: jwt.exp });
      expect(claims.roles).to.deep.equal(['free']);
      expect(claims.permissions).to.deep.equal(['quiz:play:free']);
      expect(claims.amr).to.deep.equal(['pwd']);
      expect(claims).not.to.have.any.keys('iss', 'aud', 'org_id');
      const h = result.response!.headers;
      expect(h.get('x-user-id')).to.equal(user.id);
      expect(h.get('x-status')).to.equal('active');
      expect(h.get('x-is-guest')).to.equal('false');
      expect(h.get('x-permissions')).to.equal('quiz:play:free');
      expect(h.get('x-roles')).to.equal('free');
      expect(h.get('x-plan')).to.equal('free');
      expect(h.get('x-actor-type')).to.equal('citizen');
      expect(h.get('x-session-id')).to.equal(jwt.sid);
      expect(h.get('x-request-id')).to.be.a('string').and.not.equal('');
    });

    it('POST: the token in the body, or else in the Authorization header', async () => {
      const { user, session } = await loggedInUser(app);
      const fromBody = await verifyPost({ token: session.access_token });
      expect(expectVerified(fromBody).sub).to.equal(user.id);
      expect(fromBody.response!.headers.get('x-user-id')).to.equal(user.id);
      expect(expectVerified(await verifyPost({}, session.access_token)).sub).to.equal(user.id);
      expect(expectVerified(await verifyPost(undefined, session.access_token)).sub).to.equal(user.id);
    });

    it('POST: the body token wins over the header, even when only the header is good', async () => {
      const alice = await loggedInUser(app);
      const bob = await loggedInUser(app);
      const result = await verifyPost({ token: bob.session.access_token }, alice.session.access_token);
      expect(expectVerified(result).sub).to.equal(bob.user.id);
      expect(result.response!.headers.get('x-user-id')).to.equal(bob.user.id);
      expectRefused(await verifyPost({ token: 'not.a.token' }, alice.session.access_token), 'invalid_token');
    });

    it('an admin’s refreshed token carries the admin role and *:*:*', async () => {
      const { user, session } = await loggedInUser(app);
      await grantRoleDirectly(app, user.id, 'admin');
      const refreshed = await sdk.refreshToken({ client: app.client, body: { refresh_token: session.refresh_token } });
      expect(refreshed.error, JSON.stringify(refreshed.error)).to.equal(undefined);
      const result = await verifyGet(refreshed.data!.access_token);
      const claims = expectVerified(result);
      expect(claims.roles).to.deep.equal(['admin', 'free']);
      expect(claims.permissions).to.include.members(['*:*:*', 'quiz:play:free']);
      expect(result.response!.headers.get('x-permissions')!.split(',')).to.include('*:*:*');
      expect(result.response!.headers.get('x-roles')).to.equal('admin,free');
    });
  });

  describe('refusals (401 with a bearer challenge)', () => {
    it('no token at all: authentication_required', async () => {
      expectRefused(await verifyGet(), 'authentication_required');
      expectRefused(await verifyPost({}), 'authentication_required');
      expectRefused(await sdk.verifyTokenGet({ client: app.client, headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 'authentication_required');
    });

    it('a malformed token, or one signed by another key: invalid_token', async () => {
      const { session } = await loggedInUser(app);
      expectRefused(await verifyGet('garbage'), 'invalid_token');
      expectRefused(await verifyGet('a.b.c'), 'invalid_token');
      expectRefused(await verifyPost({ token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }), 'invalid_token');
      const { kid } = decodeProtectedHeader(session.access_token);
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT(decodeJwt(session.access_token)).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(privateKey);
      expectRefused(await verifyGet(forged), 'invalid_token');
    });

    it('the restricted MFA setup token is no access token: invalid_token', async () => {
      const registered = await registerUser(app);
      await sdk.verifyEmail({ client: app.client, body: { token: registered.verificationToken } });
      await app.db('user_actor_types').insert({ user_id: registered.user.id, actor_type: 'admin' });
      const { data } = await sdk.login({ client: app.client, body: { email: registered.body.email, password: registered.body.password } });
      const paused = data as sdk.MfaChallenge;
      expect(paused.mfa_setup_required).to.equal(true);
      expectRefused(await verifyGet(paused.mfa_token), 'invalid_token');
      expectRefused(await verifyPost({ token: paused.mfa_token }), 'invalid_token');
    });

    it('an expired token: token_expired', async () => {
      const { session } = await loggedInUser(app);
      expectVerified(await verifyGet(session.access_token));
      app.clock.set(new Date((decodeJwt(session.access_token).exp! + 1) * 1000));
      expectRefused(await verifyGet(session.access_token), 'token_expired');
      expectRefused(await verifyPost({ token: session.access_token }), 'token_expired');
    });

    it('a token whose session was logged out: session_revoked, at once', async () => {
      const { session } = await loggedInUser(app);
      expectVerified(await verifyGet(session.access_token));
      const out = await sdk.logout({ client: app.client, auth: session.access_token, body: {} });
      expect(out.response?.status, JSON.stringify(out.error)).to.equal(204);
      expectRefused(await verifyGet(session.access_token), 'session_revoked');
      expectRefused(await verifyPost({ token: session.access_token }), 'session_revoked');
    });

    it('a suspended account’s token: 401 session_revoked (not the 403 of other endpoints)', async () => {
      const { user, session } = await loggedInUser(app);
      await app.db('users').where({ id: user.id }).update({ status: 'suspended' });
      const result = await verifyGet(session.access_token);
      expectRefused(result, 'session_revoked');
      expect((result.error as sdk.Problem).detail).to.match(/suspended/);
    });
  });

  describe('plumbing (the route runs ahead of the shared middleware)', () => {
    it('keeps a well-formed incoming X-Request-Id, in the header and in problems; else makes one', async () => {
      const { session } = await loggedInUser(app);
      const ok = await sdk.verifyTokenGet({ client: app.client, headers: { ...bearer(session.access_token), 'x-request-id': 'gw-123.abc' } });
      expect(ok.response!.headers.get('x-request-id')).to.equal('gw-123.abc');
      const refused = await sdk.verifyTokenGet({ client: app.client, headers: { 'x-request-id': 'gw-456' } });
      expect(expectProblem(refused, 401, 'authentication_required').request_id).to.equal('gw-456');
      const made = await sdk.verifyTokenGet({ client: app.client, headers: { ...bearer(session.access_token), 'x-request-id': 'bad id!' } });
      expect(made.response!.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    });

    it('times each call in http_request_duration_seconds under its route and status', async () => {
      const { session } = await loggedInUser(app);
      const count = async (status: string) => {
        const text = await (await fetch(`${app.url}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('http_request_duration_seconds_count{') && l.includes('method="GET"') && l.includes(`route="/api/v1/auth/verify"`) && l.includes(`status="${status}"`));
        return line ? Number(line.split(' ').at(-1)) : 0;
      };
      const [ok, refused] = [await count('200'), await count('401')];
      await verifyGet(session.access_token);
      await verifyGet(session.access_token);
      await verifyGet('garbage');
      expect(await count('200')).to.equal(ok + 2);
      expect(await count('401')).to.equal(refused + 1);
    });

    it('other methods on the path: 405 method_not_allowed', async () => {
      const result = await app.client.put({ url: '/api/v1/auth/verify' });
      expectProblem(result, 405, 'method_not_allowed');
    });
  });

  describe('POST body checks', () => {
    it('an unknown field: 400 validation_failed naming it', async () => {
      const { session } = await loggedInUser(app);
      const result = await verifyPost({ token: session.access_token, scope: 'all' } as sdk.VerifyRequest);
      const problem = expectProblem(result, 400, 'validation_failed');
      expect(problem.errors!.map((e) => e.path)).to.deep.equal(['/body/scope']);
    });

    it('a token that is empty, too long or not a string: 400 validation_failed', async () => {
      for (const token of ['', 'x'.repeat(8193), 42]) {
        const problem = expectProblem(await verifyPost({ token } as sdk.VerifyRequest), 400, 'validation_failed');
        expect(problem.errors!.map((e) => e.path)).to.deep.equal(['/body/token']);
      }
      expectProblem(await sdk.verifyToken({ client: app.client, body: ['x'] as never }), 400, 'validation_failed');
    });

    it('a body that is not JSON: 415, and broken JSON: 400 malformed_json', async () => {
      const { session } = await loggedInUser(app);
      const text = await sdk.verifyToken({ client: app.client, body: session.access_token as never, bodySerializer: (b) => b as string, headers: { 'content-type': 'text/plain' } });
      expectProblem(text, 415, 'unsupported_media_type');
      const broken = await sdk.verifyToken({ client: app.client, body: '{"token":' as never, bodySerializer: (b) => b as string });
      expectProblem(broken, 400, 'malformed_json');
    });
  });
});

describe('the verified-token cache of the verify endpoint', () => {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const tokenFor = (kid: string, jti: string) => `${b64({ alg: 'ES256', kid })}.${b64({ jti })}.sig`;

  /** A cache over a fake verifier that counts its calls, with keys that can be withdrawn. */
  function setup(maxEntries?: number) {
    const clock = new ManualClock(new Date('2026-03-01T12:00:00Z'));
    const exp = Math.floor(clock.now().getTime() / 1000) + 900;
    const accepted = new Set(['k1']);
    const calls: string[] = [];
    const tokens = {
      verify: async (token: string) => {
        calls.push(token);
        const kid = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
        if (!accepted.has(kid)) throw new AppError('invalid_token');
        if (exp <= Math.floor(clock.now().getTime() / 1000)) throw new AppError('token_expired');
        return { sub: 'u', jti: token, exp } as unknown as VerifiedAccessToken;
      },
    };
    const keys = { verificationKey: async (kid: string) => (accepted.has(kid) ? {} : undefined) };
    return { cache: new VerifiedTokenCache(tokens, keys, clock, maxEntries), calls, clock, exp, accepted };
  }

  it('checks a token’s signature once, then answers from memory with the same claims', async () => {
    const { cache, calls } = setup();
    const token = tokenFor('k1', 'a');
    const first = await cache.verify(token);
    expect(await cache.verify(token)).to.equal(first);
    expect(calls).to.deep.equal([token]);
  });

  it('re-verifies (and refuses) once the token has expired on the clock', async () => {
    const { cache, calls, clock, exp } = setup();
    const token = tokenFor('k1', 'a');
    await cache.verify(token);
    clock.set(new Date(exp * 1000 - 1));
    await cache.verify(token);
    expect(calls).to.have.length(1);
    clock.set(new Date(exp * 1000));
    const err = await cache.verify(token).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(AppError).and.have.property('code', 'token_expired');
    expect(calls).to.have.length(2);
  });

  it('re-verifies (and refuses) once the signing key is no longer accepted; failures are not cached', async () => {
    const { cache, calls, accepted } = setup();
    const token = tokenFor('k1', 'a');
    await cache.verify(token);
    accepted.delete('k1');
    for (let i = 0; i < 2; i++) {
      const err = await cache.verify(token).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(AppError).and.have.property('code', 'invalid_token');
    }
    expect(calls).to.have.length(3);
    expect(cache.size).to.equal(0);
  });

  it('holds a bounded number of tokens, dropping the oldest', async () => {
    const { cache, calls } = setup(2);
    const [a, b, c] = ['a', 'b', 'c'].map((j) => tokenFor('k1', j));
    for (const t of [a!, b!, c!]) await cache.verify(t);
    expect(cache.size).to.equal(2);
    await cache.verify(c!);
    await cache.verify(b!);
    expect(calls).to.have.length(3);
    await cache.verify(a!);
    expect(calls).to.have.length(4);
  });
});
