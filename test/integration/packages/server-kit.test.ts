import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import express from 'express';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { createSesameVerifier, permissionMatches, requirePermission, SesameAuthError, sesameAuth, type SesameVerifierOptions } from '@sesame/server-kit';
import * as sdk from '../../../sdk/src/index.js';
import { createDb, migrateAndSeed } from '../../../src/infra/db.js';
import { defaultActivationDelaySeconds } from '../../../src/infra/keys.js';
import { permissionMatches as sesameMatches } from '../../../src/identity/access.js';
import { startTestApp, type TestApp, useTestApp } from '../../helpers/app.js';
import { urlFor, withAdmin } from '../../helpers/env.js';
import { countingFetch, loggedInUser, tokensOf } from '../../helpers/flows.js';
import { listen } from '../../helpers/listen.js';
import { grantRoleDirectly } from '../../helpers/rbac.js';

/** The test app's token settings (test/helpers/env.ts). */
const issuer = 'http://sesame.test';
const audience = 'sesame';
const jwksCall = 'GET /.well-known/jwks.json';
const verifyCall = 'GET /api/v1/auth/verify';

async function refusal(work: Promise<unknown>): Promise<SesameAuthError> {
  try {
    await work;
  } catch (err) {
    expect(err).to.be.instanceOf(SesameAuthError);
    return err as SesameAuthError;
  }
  throw new Error('expected a refusal');
}

describe('server kit (@sesame/server-kit) against a running Sésame', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const kit = (options: Partial<SesameVerifierOptions> = {}) => {
    const counter = countingFetch();
    const verifier = createSesameVerifier({ url: app.url, issuer, audience, clock: app.clock, fetch: counter.fetch, ...options });
    return { verifier, ...counter };
  };

  describe('local verification (JWKS)', () => {
    it('a signed-in user’s token gives user, session, actor type, organization and permissions', async () => {
      const { session, user } = await loggedInUser(app);
      const auth = await kit().verifier.authenticate(`Bearer ${session.access_token}`);
      const claims = decodeJwt(session.access_token);
      expect(auth.user).to.deep.equal({ id: user.id, status: 'active', is_guest: false, roles: ['free'], plan: 'free' });
      expect(auth.session).to.include({ id: claims.sid, device_id: null, impersonator: null });
      expect(auth.session.amr).to.deep.equal(['pwd']);
      expect(auth.session.expires_at.getTime()).to.equal(claims.exp! * 1000);
      expect(auth.actor_type).to.equal('citizen');
      expect(auth.organization).to.equal(null);
      expect(auth.permissions).to.include('quiz:play:free');
      expect(auth.token).to.equal(session.access_token);
    });

    it('refuses a missing or non-bearer Authorization with authentication_required', async () => {
      const { verifier } = kit();
      expect((await refusal(verifier.authenticate(undefined))).code).to.equal('authentication_required');
      expect((await refusal(verifier.authenticate('Basic dXNlcjpwYXNz'))).code).to.equal('authentication_required');
    });

    it('refuses forged tokens: edited claims, another key under Sésame’s kid, HS256, alg none, garbage', async () => {
      const { session } = await loggedInUser(app);
      const token = session.access_token;
      const [header, payload, signature] = token.split('.');
      const claims = decodeJwt(token);
      const kid = decodeProtectedHeader(token).kid!;
      const edited = Buffer.from(JSON.stringify({ ...claims, permissions: ['*:*:*'] })).toString('base64url');
      const { privateKey } = await generateKeyPair('ES256');
      const otherKey = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(privateKey);
      const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(randomBytes(32));
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid })).toString('base64url')}.${payload}.`;
      const { verifier } = kit();
      for (const forged of [`${header}.${edited}.${signature}`, otherKey, hs256, none, 'not.a.token', 'garbage']) {
        expect((await refusal(verifier.verify(forged))).code, forged).to.equal('invalid_token');
      }
      await verifier.verify(token); // the genuine one still passes
    });

    it('refuses a token for another audience or from another issuer', async () => {
      const { session } = await loggedInUser(app);
      expect((await refusal(kit({ audience: 'another-service' }).verifier.verify(session.access_token))).code).to.equal('invalid_token');
      expect((await refusal(kit({ issuer: 'https://evil.example' }).verifier.verify(session.access_token))).code).to.equal('invalid_token');
    });

    it('refuses an expired token (token_expired), tolerating clock skew up to clockToleranceSeconds only', async () => {
      const { session } = await loggedInUser(app);
      const { verifier } = kit({ clockToleranceSeconds: 5 });
      app.clock.advance(session.expires_in * 1000 + 4_000);
      await verifier.verify(session.access_token);
      app.clock.advance(2_000);
      expect((await refusal(verifier.verify(session.access_token))).code).to.equal('token_expired');
    });

    it('bounds the clock tolerance (0–60 s) and the live cache (0–30 s)', () => {
      expect(() => kit({ clockToleranceSeconds: 61 })).to.throw(TypeError, /clockToleranceSeconds/);
      expect(() => kit({ clockToleranceSeconds: -1 })).to.throw(TypeError);
      expect(() => kit({ live: { cacheSeconds: 31 } })).to.throw(TypeError, /cacheSeconds/);
    });

    it('fetches the JWKS once for many verifications, and a flood of unknown kids refetches at most once per cooldown', async () => {
      const { session } = await loggedInUser(app);
      const { verifier, count } = kit();
      await Promise.all(Array.from({ length: 10 }, () => verifier.verify(session.access_token)));
      expect(count(jwksCall)).to.equal(1);
      const [, payload, signature] = session.access_token.split('.');
      const forged = () => `${Buffer.from(JSON.stringify({ alg: 'ES256', kid: randomUUID() })).toString('base64url')}.${payload}.${signature}`;
      app.clock.advance(10_000);
      for (let i = 0; i < 10; i++) expect((await refusal(verifier.verify(forged()))).code).to.equal('invalid_token');
      expect(count(jwksCall)).to.equal(2);
    });

    it('a local check does not see a revocation: the token keeps working until it expires (use live mode)', async () => {
      const { session } = await loggedInUser(app);
      await sdk.logout({ client: app.client, auth: session.access_token, body: { all_devices: false } });
      await kit().verifier.verify(session.access_token);
    });
  });

  describe('live mode (/api/v1/auth/verify)', () => {
    it('refuses a revoked session at once, though the same token passed a moment before', async () => {
      const { session } = await loggedInUser(app);
      const { verifier, count } = kit({ live: true });
      await verifier.verify(session.access_token);
      await sdk.logout({ client: app.client, auth: session.access_token, body: { all_devices: false } });
      expect((await refusal(verifier.verify(session.access_token))).code).to.equal('session_revoked');
      expect(count(verifyCall)).to.equal(2);
    });

    it('concurrent checks of one token share one call; with cacheSeconds a yes is reused that long, and no longer', async () => {
      const { session } = await loggedInUser(app);
      const { verifier, count } = kit({ live: { cacheSeconds: 5 } });
      await Promise.all(Array.from({ length: 10 }, () => verifier.verify(session.access_token)));
      expect(count(verifyCall)).to.equal(1);
      await sdk.logout({ client: app.client, auth: session.access_token, body: { all_devices: false } });
      app.clock.advance(4_000);
      await verifier.verify(session.access_token); // within the 5 s the cached yes stands (documented)
      app.clock.advance(1_000);
      expect((await refusal(verifier.verify(session.access_token))).code).to.equal('session_revoked');
    });

    it('answers 503 service_unavailable (fails closed) when Sésame cannot be reached', async () => {
      const other = await startTestApp({ clock: app.clock });
      const { session } = await loggedInUser(other);
      const verifier = createSesameVerifier({ url: other.url, issuer, audience, clock: app.clock, live: true });
      const never = createSesameVerifier({ url: other.url, issuer, audience, clock: app.clock });
      await verifier.verify(session.access_token); // keys fetched while it was up
      await other.close();
      expect((await refusal(verifier.verify(session.access_token))).code).to.equal('service_unavailable');
      expect((await refusal(never.verify(session.access_token))).code).to.equal('service_unavailable'); // no keys at all
    });
  });

  describe('Express middleware and requirePermission', () => {
    let api: Awaited<ReturnType<typeof listen>>;
    before(async () => {
      const { verifier } = kit();
      const web = express();
      web.get('/me', sesameAuth(verifier), (req, res) => void res.json({ id: req.sesame!.user.id }));
      web.get('/maybe', sesameAuth(verifier, { optional: true }), (req, res) => void res.json({ anonymous: !req.sesame }));
      web.get('/premium', sesameAuth(verifier), requirePermission('quiz:play:premium'), (_req, res) => void res.json({ ok: true }));
      web.get('/unguarded-premium', requirePermission('quiz:play:premium'), (_req, res) => void res.json({ ok: true }));
      api = await listen(web);
    });
    after(() => api.close());

    const get = (path: string, token?: string) => fetch(`${api.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

    async function expectRefusal(response: Response, status: number, code: string) {
      expect(response.status).to.equal(status);
      expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(response.headers.get('cache-control')).to.equal('no-store');
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).to.include({ type: `urn:sesame:problem:${code}`, status, code });
      expect(body.title).to.be.a('string');
      expect(body.instance).to.be.a('string');
      return body;
    }

    it('puts the caller on req.sesame; refuses no token (401 with a bearer challenge) and a bad one', async () => {
      const { session, user } = await loggedInUser(app);
      expect(await (await get('/me', session.access_token)).json()).to.deep.equal({ id: user.id });
      const anonymous = await get('/me');
      await expectRefusal(anonymous, 401, 'authentication_required');
      expect(anonymous.headers.get('www-authenticate')).to.equal('Bearer realm="api"');
      const bad = await get('/me', 'forged.token.here');
      await expectRefusal(bad, 401, 'invalid_token');
      expect(bad.headers.get('www-authenticate')).to.equal('Bearer realm="api", error="invalid_token"');
    });

    it('optional: lets anonymous requests through, still refuses a bad token', async () => {
      expect(await (await get('/maybe')).json()).to.deep.equal({ anonymous: true });
      await expectRefusal(await get('/maybe', 'forged.token.here'), 401, 'invalid_token');
    });

    it('requirePermission answers 403 permission_denied to a free user and lets a premium one through', async () => {
      const free = await loggedInUser(app);
      const body = await expectRefusal(await get('/premium', free.session.access_token), 403, 'permission_denied');
      expect(body.detail).to.include('quiz:play:premium');
      await grantRoleDirectly(app, free.user.id, 'premium');
      // The permission is in tokens issued after the grant.
      const premium = tokensOf((await sdk.refreshToken({ client: app.client, body: { refresh_token: free.session.refresh_token } })).data as sdk.LoginSuccess);
      const ok = await get('/premium', premium.access_token);
      expect(ok.status).to.equal(200);
      await expectRefusal(await get('/unguarded-premium', premium.access_token), 401, 'authentication_required');
    });
  });

  it('matches permissions exactly as Sésame does', () => {
    const granted = ['quiz:play:premium', 'quiz:*:premium', '*:*:*', 'subscription:purchase:*', 'quiz:play', 'a:b:c:d'];
    const required = ['quiz:play:premium', 'quiz:play:free', 'subscription:purchase:monthly', 'subscription:purchase:*', '*:*:*', 'quiz:play'];
    for (const g of granted) for (const r of required) expect(permissionMatches(g, r), `${g} ⊇ ${r}`).to.equal(sesameMatches(g, r));
  });
});

/** Key rotation runs on its own database: it changes the signing keys every app of that database uses. */
describe('server kit across a signing-key rotation', () => {
  const database = `sesame_kit_keys_${randomBytes(6).toString('hex')}`;
  let app: TestApp;

  before(async () => {
    await withAdmin((admin) => admin.raw(`create database "${database}"`));
    const db = createDb(urlFor(database), 2);
    try {
      await migrateAndSeed(db);
    } finally {
      await db.destroy();
    }
    app = await startTestApp({ env: { DATABASE_URL: urlFor(database) } });
  });

  after(async () => {
    await app?.close();
    await withAdmin((admin) => admin.raw(`drop database if exists "${database}" with (force)`));
  });

  it('verifies tokens of the old key and of the rotated-in one, fetching the JWKS only when its cache ends or an unknown kid appears', async () => {
    const counter = countingFetch();
    const verifier = createSesameVerifier({ url: app.url, issuer, audience, clock: app.clock, fetch: counter.fetch });
    const keys = app.running.container.keys;
    const kidOf = (token: string) => decodeProtectedHeader(token).kid;
    const before = (await loggedInUser(app)).session.access_token;
    await verifier.verify(before);
    expect(counter.count(jwksCall)).to.equal(1);

    // A scheduled rotation: published at once, signing once every JWKS cache has seen it.
    const scheduled = await keys.rotate(3600);
    await verifier.verify(before);
    app.clock.advance(defaultActivationDelaySeconds * 1000);
    const after = (await loggedInUser(app)).session.access_token;
    expect(kidOf(after)).to.equal(scheduled.kid);
    expect(kidOf(after)).to.not.equal(kidOf(before));
    await verifier.verify(after);
    await verifier.verify(before); // the retired key stays published until its tokens expire
    expect(counter.count(jwksCall)).to.equal(2); // the cache (300 s) had ended: one refetch, which knew the new key

    // An emergency rotation: the new key signs at once; an unknown kid refetches, at most once per cooldown.
    const emergency = await keys.rotate(3600, 0);
    const urgent = (await loggedInUser(app)).session.access_token;
    expect(kidOf(urgent)).to.equal(emergency.kid);
    expect((await refusal(verifier.verify(urgent))).code).to.equal('invalid_token'); // fetched < 10 s ago
    app.clock.advance(10_000);
    await verifier.verify(urgent);
    expect(counter.count(jwksCall)).to.equal(3);
    await verifier.verify(after);
  });

  it('a token whose key has left the JWKS is refused', async () => {
    const verifier = createSesameVerifier({ url: app.url, issuer, audience, clock: app.clock });
    const { session, body } = await loggedInUser(app);
    await app.running.container.keys.rotate(60, 0); // the old key leaves the JWKS in 60 s
    const fresh = tokensOf((await sdk.login({ client: app.client, body: { email: body.email, password: body.password } })).data);
    await verifier.verify(fresh.access_token);
    app.clock.advance(61_000 + 300_000); // past publish_until and past the kit's JWKS cache; not past the token's expiry
    expect((await refusal(verifier.verify(session.access_token))).code).to.equal('invalid_token');
    await verifier.verify(fresh.access_token);
  });
});
