import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { ManualClock } from '../../../src/infra/clock.js';
import { leaseClockSkewMs } from '../../../src/identity/sessions/session-leases.js';
import { AccessTokens, maxIssuedAtSkewSeconds, type AccessClaims } from '../../../src/infra/tokens.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { testConfig, testRedisUrl } from '../../helpers/env.js';
import { expectProblem, loggedInUser } from '../../helpers/flows.js';
import { acrossSleep } from '../../helpers/sleepers.js';
import { TcpProxy } from '../../helpers/tcp-proxy.js';

/**
 * Revocation under Redis outages and partitions: a session revoked in PostgreSQL is refused at
 * once by every instance, whatever the fast-path store saw. Instance `cutOff` reaches Redis through
 * a proxy the test cuts and heals (Redis keeps its data); instance `direct` reaches Redis itself.
 */
describe('revocation when the link to Redis is cut', () => {
  let proxy: TcpProxy;
  let cutOff: TestApp;
  let direct: TestApp;
  const leaseMs = 5000;

  before(async () => {
    const redis = new URL(testRedisUrl);
    proxy = await TcpProxy.start({ host: redis.hostname, port: Number(redis.port || 6379) });
    const viaProxy = new URL(testRedisUrl);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    cutOff = await startTestApp({ redisUrl: viaProxy.toString(), env: { SESSION_CACHE_SECONDS: String(leaseMs / 1000) } });
    direct = await startTestApp({ clock: cutOff.clock, env: { SESSION_CACHE_SECONDS: String(leaseMs / 1000) } });
  });

  afterEach(() => proxy.heal());

  after(async () => {
    await cutOff?.close();
    await direct?.close();
    await proxy?.close();
  });

  const profile = (app: TestApp, token: string) => sdk.getProfile({ client: app.client, auth: token });
  const verify = (app: TestApp, token: string) => sdk.verifyTokenGet({ client: app.client, headers: { authorization: `Bearer ${token}` } });

  /** A logout through `app` while its Redis link is cut: it answers once the leases have lapsed (the test moves the clock). */
  async function logoutWhileCut(app: TestApp, token: string): Promise<void> {
    const loggedOut = await acrossSleep(cutOff.clock, leaseMs + leaseClockSkewMs, () => sdk.logout({ client: app.client, auth: token, body: {} }));
    expect(loggedOut.response?.status, JSON.stringify(loggedOut.error)).to.equal(204);
  }

  it('a logout made while the link is cut sticks once the link heals, on /auth/profile and /auth/verify', async () => {
    const { session } = await loggedInUser(cutOff);
    expect((await profile(cutOff, session.access_token)).response?.status).to.equal(200);
    expect((await verify(cutOff, session.access_token)).response?.status).to.equal(200);
    proxy.cut();
    await logoutWhileCut(cutOff, session.access_token);
    expectProblem(await profile(cutOff, session.access_token), 401, 'session_revoked');
    proxy.heal();
    expectProblem(await profile(cutOff, session.access_token), 401, 'session_revoked');
    expectProblem(await verify(cutOff, session.access_token), 401, 'session_revoked');
  });

  it('once a logout made on an instance cut off from Redis has answered, an instance that still reaches Redis refuses the session', async () => {
    const { session } = await loggedInUser(direct);
    // `direct` holds a lease on the session in Redis, which `cutOff` cannot overwrite.
    expect((await profile(direct, session.access_token)).response?.status).to.equal(200);
    expect((await verify(direct, session.access_token)).response?.status).to.equal(200);
    proxy.cut();
    await logoutWhileCut(cutOff, session.access_token);
    expectProblem(await profile(direct, session.access_token), 401, 'session_revoked');
    expectProblem(await verify(direct, session.access_token), 401, 'session_revoked');
  });

  it('a logout that reaches Redis answers at once and every instance refuses the session at once', async () => {
    const { session } = await loggedInUser(direct);
    expect((await verify(cutOff, session.access_token)).response?.status).to.equal(200);
    expect((await verify(direct, session.access_token)).response?.status).to.equal(200);
    expect((await sdk.logout({ client: direct.client, auth: session.access_token, body: {} })).response?.status).to.equal(204);
    expect(cutOff.clock.sleeping).to.equal(0);
    expectProblem(await verify(cutOff, session.access_token), 401, 'session_revoked');
    expectProblem(await verify(direct, session.access_token), 401, 'session_revoked');
  });

  it('trusts a lease only for its subject and only within SESSION_CACHE_SECONDS of the PostgreSQL read', async () => {
    const { session } = await loggedInUser(direct);
    expect((await verify(direct, session.access_token)).response?.status).to.equal(200);
    const sid = decodeJwt(session.access_token).sid as string;
    // Revoked behind the cache's back (no marker written): the lease answers until it lapses.
    await direct.db('sessions').where({ id: sid }).update({ revoked_at: direct.clock.now() });
    expect((await verify(direct, session.access_token)).response?.status).to.equal(200);
    direct.clock.advance(leaseMs);
    expectProblem(await verify(direct, session.access_token), 401, 'session_revoked');
  });
});

describe('access tokens that are signed but do not match their session', () => {
  let app: TestApp;

  before(async () => {
    app = await startTestApp();
  });

  after(async () => {
    await app?.close();
  });

  /** Tokens signed with the app's own key, as someone holding it could forge them. */
  function signer(clock = app.clock): AccessTokens {
    const config = testConfig();
    return new AccessTokens(app.running.container.keys, clock, config.JWT_ISSUER, config.JWT_AUDIENCE);
  }

  it('refuses a token naming a live session of another user, on every path (a check that fills a cache first included)', async () => {
    const victim = await loggedInUser(app);
    const other = await loggedInUser(app);
    const claims = decodeJwt(victim.session.access_token) as unknown as AccessClaims;
    // Both paths have seen the victim's session live just before.
    expect((await sdk.verifyTokenGet({ client: app.client, headers: { authorization: `Bearer ${victim.session.access_token}` } })).response?.status).to.equal(200);
    expect((await sdk.getProfile({ client: app.client, auth: victim.session.access_token })).response?.status).to.equal(200);
    const { token } = await signer().sign({ ...claims, sub: other.user.id }, 600);
    expectProblem(await sdk.verifyTokenGet({ client: app.client, headers: { authorization: `Bearer ${token}` } }), 401, 'session_revoked');
    expectProblem(await sdk.getProfile({ client: app.client, auth: token }), 401, 'session_revoked');
  });

  it(`refuses a token issued in the future (more than ${maxIssuedAtSkewSeconds} s ahead), and accepts one within the skew`, async () => {
    const { session } = await loggedInUser(app);
    const claims = decodeJwt(session.access_token) as unknown as AccessClaims;
    const ahead = (seconds: number) => new ManualClock(new Date(app.clock.now().getTime() + seconds * 1000));
    const future = (await signer(ahead(3600)).sign(claims, 7200)).token;
    expectProblem(await sdk.verifyTokenGet({ client: app.client, headers: { authorization: `Bearer ${future}` } }), 401, 'invalid_token');
    expectProblem(await sdk.getProfile({ client: app.client, auth: future }), 401, 'invalid_token');
    const skewed = (await signer(ahead(maxIssuedAtSkewSeconds)).sign(claims, 600)).token;
    expect((await sdk.getProfile({ client: app.client, auth: skewed })).response?.status).to.equal(200);
  });
});
