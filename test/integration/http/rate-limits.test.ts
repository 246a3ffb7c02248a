import { randomInt, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Options } from 'express-rate-limit';
import { Redis } from 'ioredis';
import * as sdk from '../../../sdk/src/index.js';
import { RedisLimitStore } from '../../../src/infra/rate-limit/redis-limit-store.js';
import { limitKey } from '../../../src/http/rate-limit/keys.js';
import { RedisStore } from '../../../src/infra/store/redis-store.js';
import { startTestApp, type TestApp, useTestApp } from '../../helpers/app.js';
import { testRedisUrl } from '../../helpers/env.js';
import { advanceRedisTime, redisTtlMs } from '../../helpers/redis-time.js';
import { expectProblem, registerBody, registerUser, strongPassword, tokensOf, uniqueEmail } from '../../helpers/flows.js';

type Result = { error?: unknown; response?: Response };

/** One request of a series: the email it names and the client address it comes from. */
interface Attempt {
  email: string;
  ip: string;
}

interface LimitCase {
  title: string;
  setting: string;
  by: 'ip' | 'email';
  /** The status of a request under the limit. */
  status: number;
  send(app: TestApp, attempt: Attempt): Promise<Result>;
}

const wrongPassword = 'Wrong-Pass-2026!';
const via = (ip: string) => ({ 'X-Forwarded-For': ip });
/** Counters outlive a run (Redis, fast_store): every test counts on addresses of its own. */
const uniqueIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const uniqueIpv6Network = () => `2001:db8:${randomInt(65536).toString(16)}:${randomInt(65536).toString(16)}`;

const limits: LimitCase[] = [
  {
    title: 'login per client IP',
    setting: 'RATE_LIMIT_LOGIN_IP',
    by: 'ip',
    status: 401,
    send: (app, a) => sdk.login({ client: app.client, headers: via(a.ip), body: { email: a.email, password: wrongPassword } }),
  },
  {
    title: 'login per email',
    setting: 'RATE_LIMIT_LOGIN_EMAIL',
    by: 'email',
    status: 401,
    send: (app, a) => sdk.login({ client: app.client, headers: via(a.ip), body: { email: a.email, password: wrongPassword } }),
  },
  {
    title: 'registration per client IP',
    setting: 'RATE_LIMIT_REGISTER_IP',
    by: 'ip',
    status: 201,
    send: (app, a) => sdk.register({ client: app.client, headers: via(a.ip), body: registerBody({ email: a.email }) }),
  },
  {
    title: 'guest creation per client IP',
    setting: 'RATE_LIMIT_GUEST_IP',
    by: 'ip',
    status: 201,
    send: (app, a) => sdk.createGuest({ client: app.client, headers: via(a.ip), body: { device_id: `device-${randomUUID()}` } }),
  },
  {
    title: 'password reset request per email',
    setting: 'RATE_LIMIT_PASSWORD_RESET_EMAIL',
    by: 'email',
    status: 202,
    send: (app, a) => sdk.requestPasswordReset({ client: app.client, headers: via(a.ip), body: { email: a.email } }),
  },
  {
    title: 'verification resend per email',
    setting: 'RATE_LIMIT_VERIFICATION_RESEND_EMAIL',
    by: 'email',
    status: 202,
    send: (app, a) => sdk.resendVerificationEmail({ client: app.client, headers: via(a.ip), body: { email: a.email } }),
  },
];

/** Requests that share the counted key and differ in everything else. */
function series(limit: LimitCase, n: number): Attempt[] {
  const ip = uniqueIp();
  const email = uniqueEmail('limited');
  return Array.from({ length: n }, () => (limit.by === 'ip' ? { ip, email: uniqueEmail('other') } : { ip: uniqueIp(), email }));
}

async function redisKeys(pattern: string): Promise<string[]> {
  const redis = new Redis(testRedisUrl);
  try {
    return await redis.keys(pattern);
  } finally {
    redis.disconnect();
  }
}

function header(result: Result, name: string): string | null | undefined {
  return result.response?.headers.get(name);
}

function expectAllowed(result: Result, status: number, remaining: number, limit: number): void {
  expect(result.response?.status, JSON.stringify(result.error)).to.equal(status);
  expect(header(result, 'RateLimit-Limit')).to.equal(String(limit));
  expect(header(result, 'RateLimit-Remaining')).to.equal(String(remaining));
  expect(Number(header(result, 'RateLimit-Reset'))).to.be.a('number').and.at.least(0);
}

/** Asserts the 429 of a tripped limit and returns its Retry-After in seconds. */
function expectRateLimited(result: Result, limit: number): number {
  const problem = expectProblem(result, 429, 'rate_limited');
  const retryAfter = Number(header(result, 'Retry-After'));
  expect(Number.isInteger(retryAfter), `Retry-After ${header(result, 'Retry-After')}`).to.equal(true);
  expect(retryAfter).to.be.at.least(1);
  expect(problem.detail).to.equal(`Too many requests; retry in ${retryAfter} seconds.`);
  expect(header(result, 'RateLimit-Limit')).to.equal(String(limit));
  expect(header(result, 'RateLimit-Remaining')).to.equal('0');
  expect(Number(header(result, 'RateLimit-Reset'))).to.be.within(0, retryAfter);
  return retryAfter;
}

/** The variants of one email that must count as one. */
function caseVariants(email: string): string[] {
  return [email, email.toUpperCase(), email.charAt(0).toUpperCase() + email.slice(1)];
}

for (const limit of limits) {
  describe(`rate limit: ${limit.title} (${limit.setting})`, () => {
    let redisApp: TestApp;
    let pgApp: TestApp;
    useTestApp((app) => (redisApp = app), { env: { [limit.setting]: '2/15m', TRUST_PROXY: 'loopback' } });
    useTestApp((app) => (pgApp = app), { store: 'postgres', env: { [limit.setting]: '2/15m', TRUST_PROXY: 'loopback' } });

    it('allows exactly 2 requests, answers the 3rd with 429 rate_limited, and allows again once the 15 min window has passed (Redis)', async () => {
      const [first, second, third, later] = series(limit, 4) as [Attempt, Attempt, Attempt, Attempt];
      expectAllowed(await limit.send(redisApp, first), limit.status, 1, 2);
      expectAllowed(await limit.send(redisApp, second), limit.status, 0, 2);
      // Redis counts real time; a test never runs for 20 s (its timeout), so the window has
      // at least 880 s left whatever the machine's speed.
      expect(expectRateLimited(await limit.send(redisApp, third), 2)).to.be.within(880, 900);
      const counter = `sesame-test:rl:*:${limitKey(limit.by, { ip: first.ip, body: { email: first.email } }, 64)}`;
      const [key] = await redisKeys(counter);
      expect(key, `no Redis counter matches ${counter}`).to.be.a('string');
      expect(await redisTtlMs(key!)).to.be.within(880_000, 900_000);
      // The window passes: its counter expires.
      expect(await advanceRedisTime(counter, 15 * 60_000)).to.equal(1);
      expectAllowed(await limit.send(redisApp, later), limit.status, 1, 2);
    });

    it('on the PostgreSQL store, counts its 15 min window on the injected clock', async () => {
      const attempts = series(limit, 5);
      const send = (i: number) => limit.send(pgApp, attempts[i]!);
      expectAllowed(await send(0), limit.status, 1, 2);
      expectAllowed(await send(1), limit.status, 0, 2);
      expect(expectRateLimited(await send(2), 2)).to.equal(900);
      pgApp.clock.advance(5 * 60_000);
      expect(expectRateLimited(await send(3), 2)).to.equal(600);
      pgApp.clock.advance(10 * 60_000);
      expectAllowed(await send(4), limit.status, 1, 2);
    });

    if (limit.by === 'email') {
      it('counts an email in any case as one email', async () => {
        const [lower, upper, capitalized] = caseVariants(uniqueEmail('cased'));
        expectAllowed(await limit.send(pgApp, { email: lower!, ip: uniqueIp() }), limit.status, 1, 2);
        expectAllowed(await limit.send(pgApp, { email: upper!, ip: uniqueIp() }), limit.status, 0, 2);
        expectRateLimited(await limit.send(pgApp, { email: capitalized!, ip: uniqueIp() }), 2);
      });

      it('treats an unknown email and an account email alike', async () => {
        const { body } = await registerUser(pgApp);
        const outcomes = async (email: string) => {
          const results = [];
          for (let i = 0; i < 3; i++) results.push(await limit.send(pgApp, { email, ip: uniqueIp() }));
          const { request_id: _id, instance: _instance, ...problem } = results[2]!.error as sdk.Problem;
          return { statuses: results.map((r) => r.response?.status), remaining: results.map((r) => header(r, 'RateLimit-Remaining')), problem };
        };
        const known = await outcomes(body.email);
        const unknown = await outcomes(uniqueEmail('nobody'));
        expect(known.statuses).to.deep.equal([limit.status, limit.status, 429]);
        expect(unknown).to.deep.equal(known);
      });
    }
  });
}

describe('rate limit: login under the limit', () => {
  let app: TestApp;
  useTestApp((started) => (app = started), { store: 'postgres', env: { RATE_LIMIT_LOGIN_IP: '2/15m', TRUST_PROXY: 'loopback' } });

  it('still answers 401 invalid_credentials and 200 with tokens, each counted, before the 429', async () => {
    const { body, verificationToken } = await registerUser(app);
    expect((await sdk.verifyEmail({ client: app.client, body: { token: verificationToken } })).response?.status).to.equal(200);
    const headers = via(uniqueIp());
    const wrong = await sdk.login({ client: app.client, headers, body: { email: body.email, password: wrongPassword } });
    expectProblem(wrong, 401, 'invalid_credentials');
    expectAllowed(wrong, 401, 1, 2);
    const right = await sdk.login({ client: app.client, headers, body: { email: body.email, password: body.password } });
    expect(tokensOf(right.data).access_token).to.be.a('string');
    expectAllowed(right, 200, 0, 2);
    expectRateLimited(await sdk.login({ client: app.client, headers, body: { email: body.email, password: body.password } }), 2);
  });
});

describe('rate limit: both login limits on one request', () => {
  let app: TestApp;
  useTestApp((started) => (app = started), { store: 'postgres', env: { RATE_LIMIT_LOGIN_IP: '3/15m', RATE_LIMIT_LOGIN_EMAIL: '4/15m', TRUST_PROXY: 'loopback' } });

  it('describes in the RateLimit-* headers the limit closest to tripping, and answers 429 for whichever trips', async () => {
    const [ip1, ip2, ip3] = [uniqueIp(), uniqueIp(), uniqueIp()];
    const email = uniqueEmail('both');
    const login = (ip: string, as = email) => sdk.login({ client: app.client, headers: via(ip), body: { email: as, password: wrongPassword } });
    expectAllowed(await login(ip1), 401, 2, 3); // ip1 has 2 left, the email 3
    expectAllowed(await login(ip1), 401, 1, 3); // 1 and 2
    expectAllowed(await login(ip2), 401, 1, 4); // ip2 2, the email 1
    expectAllowed(await login(ip2), 401, 0, 4); // 1 and 0
    expectRateLimited(await login(ip3), 4); // the email trips although ip3 has room
    expectAllowed(await login(ip1, uniqueEmail('other')), 401, 0, 3);
    expectRateLimited(await login(ip1, uniqueEmail('other')), 3); // ip1 trips with a fresh email
  });
});

describe('rate limits across instances and behind proxies', () => {
  let a: TestApp;
  let b: TestApp;
  let proxied: TestApp;
  let direct: TestApp;
  useTestApp((app) => (a = app), { env: { RATE_LIMIT_LOGIN_EMAIL: '2/15m' } });
  useTestApp((app) => (b = app), { env: { RATE_LIMIT_LOGIN_EMAIL: '2/15m' } });
  useTestApp((app) => (proxied = app), { env: { RATE_LIMIT_LOGIN_IP: '2/15m', TRUST_PROXY: 'loopback' } });
  useTestApp((app) => (direct = app), { env: { RATE_LIMIT_LOGIN_IP: '2/15m' } });

  const login = (app: TestApp, ip: string, email = uniqueEmail()) => sdk.login({ client: app.client, headers: via(ip), body: { email, password: wrongPassword } });

  it('shares the counters of two instances on one Redis: 2 requests on one and 1 on the other trip a 2/min limit', async () => {
    const email = uniqueEmail('shared');
    expectAllowed(await login(a, uniqueIp(), email), 401, 1, 2);
    expectAllowed(await login(a, uniqueIp(), email), 401, 0, 2);
    expectRateLimited(await login(b, uniqueIp(), email), 2);
  });

  it('behind a trusted proxy, counts each forwarded client address apart', async () => {
    const [first, second] = [uniqueIp(), uniqueIp()];
    expectAllowed(await login(proxied, first), 401, 1, 2);
    expectAllowed(await login(proxied, first), 401, 0, 2);
    expectAllowed(await login(proxied, second), 401, 1, 2);
    expectRateLimited(await login(proxied, first), 2);
    expectAllowed(await login(proxied, second), 401, 0, 2);
  });

  it('behind a trusted proxy, counts the IPv6 addresses of one /64 together and another /64 apart', async () => {
    const [network, other] = [uniqueIpv6Network(), uniqueIpv6Network()];
    expectAllowed(await login(proxied, `${network}::1`), 401, 1, 2);
    expectAllowed(await login(proxied, `${network}:ffff:ffff:ffff:2`), 401, 0, 2);
    expectAllowed(await login(proxied, `${other}::1`), 401, 1, 2);
    expectRateLimited(await login(proxied, `${network}::3`), 2);
  });

  describe('without a trusted proxy', () => {
    // Every request of this app comes from 127.0.0.1: its counter starts empty and is left so.
    const bucket = 'rl:login-ip:ip:127.0.0.1';
    beforeEach(() => direct.store.delete(bucket));
    afterEach(() => direct.store.delete(bucket));

    it('ignores X-Forwarded-For: every forwarded address counts in the one bucket of the peer', async () => {
      expectAllowed(await login(direct, uniqueIp()), 401, 1, 2);
      expectAllowed(await login(direct, uniqueIp()), 401, 0, 2);
      expectRateLimited(await login(direct, uniqueIp()), 2);
    });
  });
});

describe('rate limits when the counter store fails', () => {
  it('let requests through (fail open) while Redis is unreachable', async () => {
    const app = await startTestApp({ env: { RATE_LIMIT_PASSWORD_RESET_EMAIL: '1/15m' } });
    try {
      const email = uniqueEmail('open');
      const first = await sdk.requestPasswordReset({ client: app.client, body: { email } });
      expectAllowed(first, 202, 0, 1);
      await app.store.close();
      const during = await sdk.requestPasswordReset({ client: app.client, body: { email } });
      expect(during.response?.status, JSON.stringify(during.error)).to.equal(202);
      expect(header(during, 'RateLimit-Remaining')).to.equal(null);
    } finally {
      await app.close();
    }
  });

  it('count again once Redis answers, even when it failed as the limiter started', async () => {
    const prefix = `sesame-test-rl-${randomUUID()}:`;
    const redis = await RedisStore.connect(testRedisUrl, prefix);
    let reachable = false;
    const flaky = Object.assign(Object.create(redis) as RedisStore, {
      sendCommand: (command: string, ...args: string[]) => (reachable ? redis.sendCommand(command, ...args) : Promise.reject(new Error('Connection is closed.'))),
    });
    const store = new RedisLimitStore(flaky, `${prefix}rl:test:`);
    try {
      await store.init({ windowMs: 60_000 } as Options).catch(() => undefined);
      let failed: unknown;
      await store.increment('ip:203.0.113.1').catch((err: unknown) => (failed = err));
      expect(failed).to.be.instanceOf(Error);
      reachable = true;
      expect((await store.increment('ip:203.0.113.1')).totalHits).to.equal(1);
      expect((await store.increment('ip:203.0.113.1')).totalHits).to.equal(2);
    } finally {
      const admin = new Redis(testRedisUrl);
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length) await admin.del(...keys);
      admin.disconnect();
      await redis.close();
    }
  });
});

describe('rate limits that are off', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  it('are not installed: no RateLimit-* headers and no 429, however many requests', async () => {
    const email = uniqueEmail('unlimited');
    for (let i = 0; i < 6; i++) {
      const result = await sdk.login({ client: app.client, body: { email, password: strongPassword } });
      expect(result.response?.status).to.equal(401);
      expect(header(result, 'RateLimit-Limit')).to.equal(null);
    }
  });
});
