import { expect } from 'chai';
import { SignJWT, decodeJwt, decodeProtectedHeader, generateKeyPair, type JWTPayload } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { acrossSleep } from '../../helpers/sleepers.js';
import { startTestApp, type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser } from '../../helpers/flows.js';

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('access and refresh tokens', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const profileWith = (token: string) => sdk.getProfile({ client: app.client, auth: token });
  const refresh = (token: string) => sdk.refreshToken({ client: app.client, body: { refresh_token: token } });

  describe('refresh rotation', () => {
    it('rotates: a new pair, the new access token works, the session is the same', async () => {
      const { session } = await loggedInUser(app);
      const { data, response } = await refresh(session.refresh_token);
      expect(response?.status).to.equal(200);
      expect(data!.refresh_token).not.to.equal(session.refresh_token);
      expect(data!.access_token).not.to.equal(session.access_token);
      expect(decodeJwt(data!.access_token).sid).to.equal(decodeJwt(session.access_token).sid);
      expect((await profileWith(data!.access_token)).response?.status).to.equal(200);
      const again = await refresh(data!.refresh_token);
      expect(again.response?.status).to.equal(200);
    });

    it('when a rotated token is presented after the grace window, then the whole session is revoked', async () => {
      const { session } = await loggedInUser(app);
      const second = (await refresh(session.refresh_token)).data!;
      app.clock.advance(11_000);
      expectProblem(await refresh(session.refresh_token), 401, 'refresh_token_reused');
      expectProblem(await refresh(second.refresh_token), 401, 'session_revoked');
      expectProblem(await profileWith(second.access_token), 401, 'session_revoked');
      const row = await app.db('sessions').where({ id: decodeJwt(session.access_token).sid }).first();
      expect(row.revoked_reason).to.equal('refresh_token_reused');
    });

    it('when an older generation is presented, even within the window, then it is reuse', async () => {
      const { session } = await loggedInUser(app);
      const second = (await refresh(session.refresh_token)).data!;
      await refresh(second.refresh_token);
      expectProblem(await refresh(session.refresh_token), 401, 'refresh_token_reused');
    });

    it('when a client lost the response, its retry within the window gets a pair that supersedes the current one', async () => {
      const { session } = await loggedInUser(app);
      const lost = (await refresh(session.refresh_token)).data!;
      app.clock.advance(5_000);
      const retried = await refresh(session.refresh_token);
      expect(retried.response?.status).to.equal(200);
      expect(retried.data!.refresh_token).not.to.equal(lost.refresh_token);
      // The retried pair is the family's current one and keeps working.
      const next = await refresh(retried.data!.refresh_token);
      expect(next.response?.status).to.equal(200);
      // The lost one is now two generations old: presenting it is reuse.
      expectProblem(await refresh(lost.refresh_token), 401, 'refresh_token_reused');
    });

    it('concurrent refreshes of one token never fork the family', async () => {
      const { session } = await loggedInUser(app);
      const results = await Promise.all([refresh(session.refresh_token), refresh(session.refresh_token)]);
      expect(results.map((r) => r.response?.status)).to.deep.equal([200, 200]);
      const sid = decodeJwt(session.access_token).sid as string;
      const live = await app.db('refresh_tokens').where({ session_id: sid }).whereNull('rotated_at');
      expect(live).to.have.length(1);
      const generations = (await app.db('refresh_tokens').where({ session_id: sid }).orderBy('generation')).map((r) => r.generation);
      expect(generations).to.deep.equal([1, 2, 3]);
    });

    it('refuses an unknown refresh token with 401 invalid_refresh_token', async () => {
      expectProblem(await refresh('x'.repeat(43)), 401, 'invalid_refresh_token');
    });

    it('refuses a refresh after the session has expired', async () => {
      const { session } = await loggedInUser(app, {}, { remember_me: false });
      app.clock.advance(86_400_000 + 1000);
      expectProblem(await refresh(session.refresh_token), 401, 'session_expired');
    });

    it('refuses a refresh for a suspended account', async () => {
      const { session, user } = await loggedInUser(app);
      await app.db('users').where({ id: user.id }).update({ status: 'suspended' });
      expectProblem(await refresh(session.refresh_token), 403, 'account_suspended');
    });

    it('stores only hashes of refresh tokens', async () => {
      const { session } = await loggedInUser(app);
      const found = await app.db('refresh_tokens').where({ token_hash: session.refresh_token }).first();
      expect(found).to.equal(undefined);
    });
  });

  describe('access token verification', () => {
    it('rejects an expired access token with 401 token_expired', async () => {
      const { session } = await loggedInUser(app);
      app.clock.advance(1801_000);
      expectProblem(await profileWith(session.access_token), 401, 'token_expired');
    });

    it('rejects a tampered token', async () => {
      const { session } = await loggedInUser(app);
      const [h, p, s] = session.access_token.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as JWTPayload;
      const forged = [h, b64({ ...claims, sub: '00000000-0000-0000-0000-000000000000' }), s].join('.');
      expectProblem(await profileWith(forged), 401, 'invalid_token');
      const badSignature = [h, p, `${s!.slice(0, -4)}AAAA`].join('.');
      expectProblem(await profileWith(badSignature), 401, 'invalid_token');
    });

    it('rejects an unsigned alg:none token', async () => {
      const { session } = await loggedInUser(app);
      const { kid } = decodeProtectedHeader(session.access_token);
      const claims = decodeJwt(session.access_token);
      const none = `${b64({ alg: 'none', kid, typ: 'JWT' })}.${b64(claims)}.`;
      expectProblem(await profileWith(none), 401, 'invalid_token');
    });

    it('rejects an HS256 token keyed with the public key (algorithm confusion)', async () => {
      const { session } = await loggedInUser(app);
      const { kid } = decodeProtectedHeader(session.access_token);
      const jwks = (await sdk.getJwks({ client: app.client })).data!;
      const publicJwk = jwks.keys.find((k) => k.kid === kid)!;
      const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
      const hs = await new SignJWT(decodeJwt(session.access_token)).setProtectedHeader({ alg: 'HS256', kid }).sign(secret);
      expectProblem(await profileWith(hs), 401, 'invalid_token');
    });

    it('rejects a token signed by another ES256 key under a known kid', async () => {
      const { session } = await loggedInUser(app);
      const { kid } = decodeProtectedHeader(session.access_token);
      const { privateKey } = await generateKeyPair('ES256');
      const foreign = await new SignJWT(decodeJwt(session.access_token)).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);
      expectProblem(await profileWith(foreign), 401, 'invalid_token');
    });

    for (const [what, env] of [
      ['audience', { JWT_AUDIENCE: 'another-product' }],
      ['issuer', { JWT_ISSUER: 'https://another-issuer.example' }],
    ] as const) {
      it(`rejects a token of this service's keys for another ${what}`, async () => {
        const other = await startTestApp({ env, clock: app.clock });
        try {
          const { session } = await loggedInUser(other);
          expect((await sdk.getProfile({ client: other.client, auth: session.access_token })).response?.status).to.equal(200);
          expectProblem(await profileWith(session.access_token), 401, 'invalid_token');
        } finally {
          await other.close();
        }
      });
    }

    it('answers 401 with a Bearer challenge', async () => {
      const missing = await fetch(`${app.url}/api/v1/auth/profile`);
      expect(missing.headers.get('www-authenticate')).to.equal('Bearer realm="sesame"');
      const bad = await fetch(`${app.url}/api/v1/auth/profile`, { headers: { authorization: 'Bearer not.a.jwt' } });
      expect(bad.headers.get('www-authenticate')).to.equal('Bearer realm="sesame", error="invalid_token"');
    });

    it('rejects the access token of a suspended account with 403 account_suspended', async () => {
      const { session, user } = await loggedInUser(app);
      await app.db('users').where({ id: user.id }).update({ status: 'suspended' });
      expectProblem(await profileWith(session.access_token), 403, 'account_suspended');
    });

    it('keeps authenticating from PostgreSQL when Redis is unavailable, and logout still revokes', async () => {
      const degraded = await startTestApp({ clock: app.clock });
      const sessionCacheSeconds = degraded.running.container.config.SESSION_CACHE_SECONDS;
      try {
        const { session } = await loggedInUser(degraded);
        await degraded.store.close(); // Redis gone for this instance
        const profile = await sdk.getProfile({ client: degraded.client, auth: session.access_token });
        expect(profile.response?.status).to.equal(200);
        // The logout cannot publish its revocation: it waits until every lease on the session has lapsed.
        const loggedOut = await acrossSleep(app.clock, (sessionCacheSeconds + 1) * 1000, () => sdk.logout({ client: degraded.client, auth: session.access_token }));
        expect(loggedOut.response?.status).to.equal(204);
        expectProblem(await sdk.getProfile({ client: degraded.client, auth: session.access_token }), 401, 'session_revoked');
      } finally {
        await degraded.running.close();
        await degraded.db.destroy();
      }
    });

    it('rejects garbage and a non-Bearer scheme', async () => {
      expectProblem(await profileWith('not.a.jwt'), 401, 'invalid_token');
      const basic = await fetch(`${app.url}/api/v1/auth/profile`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      expect(basic.status).to.equal(401);
      expect(((await basic.json()) as sdk.Problem).code).to.equal('authentication_required');
    });
  });
});
