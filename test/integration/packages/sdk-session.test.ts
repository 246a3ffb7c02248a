import { expect } from 'chai';
import { createSession, memoryStorage, getProfile, listSessions, SessionRefreshError, type SesameSession, type SessionEvent, type SessionStorage } from '@sesame/sdk';
import * as sdk from '../../../sdk/src/index.js';
import { ManualClock } from '../../../src/infra/clock.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { countingFetch, expectProblem, tokensOf, verifiedUser } from '../../helpers/flows.js';

const refreshCall = 'POST /api/v1/auth/refresh';
const profileCall = 'GET /api/v1/auth/profile';

describe('SDK session helper (tokens kept fresh, one refresh in flight, sign-in events)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  /** A session on the app, sharing its clock unless given another, recording its events and requests. */
  function sessionOn(options: { clock?: ManualClock; storage?: SessionStorage; baseUrl?: string } = {}) {
    const counter = countingFetch();
    const events: SessionEvent[] = [];
    const session = createSession({ baseUrl: options.baseUrl ?? app.url, clock: options.clock ?? app.clock, storage: options.storage, fetch: counter.fetch, locks: null });
    session.onChange((e) => events.push(e));
    return { session, events, ...counter };
  }

  async function signedIn(options: Parameters<typeof sessionOn>[0] = {}) {
    const who = await verifiedUser(app);
    const tab = sessionOn(options);
    const result = await tab.session.signIn({ email: who.email, password: who.password });
    expect(result.error, JSON.stringify(result.error)).to.equal(undefined);
    return { who, ...tab, expiresIn: tokensOf(result.data).expires_in };
  }

  const profile = (session: SesameSession) => getProfile({ client: session.client });
  const statuses = (results: Array<{ response?: Response }>) => results.map((r) => r.response?.status);

  /** Past the server's grace window a stale refresh token would be reuse (the session revoked): both tabs still work. */
  async function expectBothAlive(a: SesameSession, b: SesameSession, expiresIn: number) {
    app.clock.advance(11_000 + expiresIn * 1000);
    expect(statuses(await Promise.all([profile(a), profile(b)]))).to.deep.equal([200, 200]);
    app.clock.advance(11_000 + expiresIn * 1000);
    expect(statuses(await Promise.all([profile(a), profile(b)]))).to.deep.equal([200, 200]);
    expect([a.signedIn, b.signedIn]).to.deep.equal([true, true]);
    expect((await listSessions({ client: a.client })).data?.items).to.have.length(1);
  }

  it('signIn keeps the tokens and reports signed_in; the client sends the access token', async () => {
    const { session, events, who } = await signedIn();
    expect(events.map((e) => e.type)).to.deep.equal(['signed_in']);
    expect(session.signedIn).to.equal(true);
    expect(session.user?.email).to.equal(who.email);
    const me = await profile(session);
    expect(me.response?.status).to.equal(200);
    expect(me.data?.email).to.equal(who.email);
  });

  it('when 20 calls start as the access token is about to expire, then exactly one refresh is sent and every call succeeds', async () => {
    const { session, events, count, expiresIn } = await signedIn();
    app.clock.advance((expiresIn - 30) * 1000); // inside the refresh margin, not yet expired
    const results = await Promise.all(Array.from({ length: 20 }, () => profile(session)));
    expect(statuses(results)).to.deep.equal(Array(20).fill(200));
    expect(count(refreshCall)).to.equal(1);
    expect(count(profileCall)).to.equal(20);
    expect(events.map((e) => e.type)).to.deep.equal(['signed_in', 'refreshed']);
  });

  it('when 20 calls start once the access token has expired, then exactly one refresh is sent and no call sees a 401', async () => {
    const { session, count, expiresIn } = await signedIn();
    app.clock.advance(expiresIn * 1000 + 1000);
    const results = await Promise.all(Array.from({ length: 20 }, () => profile(session)));
    expect(statuses(results)).to.deep.equal(Array(20).fill(200));
    expect(count(refreshCall)).to.equal(1);
  });

  it('when the server finds the token expired though the helper did not (clock skew), then each call is retried once after one refresh', async () => {
    const ownClock = new ManualClock(app.clock.now());
    const { session, count, calls, expiresIn } = await signedIn({ clock: ownClock });
    app.clock.advance(expiresIn * 1000 + 1000); // only the server's clock moves
    const results = await Promise.all(Array.from({ length: 10 }, () => profile(session)));
    expect(statuses(results)).to.deep.equal(Array(10).fill(200));
    expect(count(refreshCall)).to.equal(1);
    expect(count(profileCall)).to.equal(20); // each sent, refused with token_expired, sent again
    expect(calls.indexOf(refreshCall)).to.be.greaterThan(calls.indexOf(profileCall));
  });

  it('when the session is revoked elsewhere, then the next call reports session_revoked and forgets the tokens (no refresh tried)', async () => {
    const { session, events, count, who } = await signedIn();
    const other = tokensOf((await sdk.login({ client: app.client, body: { email: who.email, password: who.password } })).data);
    expect((await sdk.revokeOtherSessions({ client: app.client, auth: other.access_token })).response?.status).to.equal(200);
    expectProblem(await profile(session), 401, 'session_revoked');
    expect(events.at(-1)).to.deep.equal({ type: 'session_revoked', reason: 'session_revoked' });
    expect(session.signedIn).to.equal(false);
    expect(await session.accessToken()).to.equal(undefined);
    expect(count(refreshCall)).to.equal(0);
  });

  it('when the refresh is refused (session ended while the token aged), then session_revoked is reported', async () => {
    const { session, events, who, expiresIn } = await signedIn();
    const other = tokensOf((await sdk.login({ client: app.client, body: { email: who.email, password: who.password } })).data);
    await sdk.revokeOtherSessions({ client: app.client, auth: other.access_token });
    app.clock.advance(expiresIn * 1000);
    expect(await session.accessToken()).to.equal(undefined);
    expect(events.at(-1)).to.deep.equal({ type: 'session_revoked', reason: 'session_revoked' });
  });

  it('signOut ends the session at Sésame, empties the storage and reports signed_out', async () => {
    const storage = memoryStorage();
    const { session, events } = await signedIn({ storage });
    const token = (await session.accessToken())!;
    await session.signOut();
    expect(events.map((e) => e.type)).to.deep.equal(['signed_in', 'signed_out']);
    expect(await storage.get('sesame.session')).to.equal(null);
    expectProblem(await sdk.getProfile({ client: app.client, auth: token }), 401, 'session_revoked');
  });

  it('a refresh that cannot reach Sésame keeps the tokens and fails the call (SessionRefreshError), not the session', async () => {
    const storage = memoryStorage();
    const { session, expiresIn } = await signedIn({ storage });
    const stored = await storage.get('sesame.session');
    const offline = sessionOn({ storage, baseUrl: 'http://127.0.0.1:9' }).session;
    app.clock.advance(expiresIn * 1000);
    let thrown: unknown;
    await offline.accessToken().catch((err: unknown) => (thrown = err));
    expect(thrown).to.be.instanceOf(SessionRefreshError);
    expect(await storage.get('sesame.session')).to.equal(stored);
    expect(await session.accessToken()).to.be.a('string'); // back online: the same tokens refresh
  });

  describe('two tabs sharing one storage', () => {
    it('another tab sees the sign-in, the refresh and the sign-out as events', async () => {
      const storage = memoryStorage();
      const other = sessionOn({ storage });
      await other.session.load();
      const { session, expiresIn } = await signedIn({ storage });
      app.clock.advance(expiresIn * 1000);
      await session.accessToken();
      await session.signOut();
      await other.session.load();
      expect(other.events.map((e) => e.type)).to.deep.equal(['signed_in', 'refreshed', 'signed_out']);
      expect(other.count(refreshCall)).to.equal(0);
    });

    it('when both refresh at once without a lock manager, then the session survives the grace window', async () => {
      const storage = memoryStorage();
      const a = await signedIn({ storage });
      const b = sessionOn({ storage });
      app.clock.advance(a.expiresIn * 1000);
      const [ta, tb] = await Promise.all([a.session.accessToken(), b.session.accessToken()]);
      expect([typeof ta, typeof tb]).to.deep.equal(['string', 'string']);
      // No lock between them: each sent the same refresh token, and the server's grace window answered both.
      expect([a.count(refreshCall) > 0, b.count(refreshCall) > 0]).to.deep.equal([true, true]);
      await expectBothAlive(a.session, b.session, a.expiresIn);
    });

    it('when the tab holding the older pair writes it last, then it rotates once more, so the stored pair is the current one', async () => {
      // Forces the unlucky order: A's refresh reaches the server first, B's (the same token, in
      // the grace window) second, and A's answer is written after B's.
      const storage = memoryStorage();
      const isRefresh = (r: Request) => new URL(r.url).pathname === '/api/v1/auth/refresh';
      let processedA!: () => void;
      const aProcessed = new Promise<void>((resolve) => (processedA = resolve));
      let wroteB!: () => void;
      const bWritten = new Promise<void>((resolve) => (wroteB = resolve));
      const fetchA: typeof fetch = async (input, init) => {
        const request = new Request(input, init);
        const response = await fetch(request);
        if (isRefresh(request)) {
          processedA();
          await bWritten;
        }
        return response;
      };
      const fetchB: typeof fetch = async (input, init) => {
        const request = new Request(input, init);
        if (isRefresh(request)) await aProcessed;
        return fetch(request);
      };
      const tab = (f: typeof fetch) => createSession({ baseUrl: app.url, clock: app.clock, storage, fetch: f, locks: null });
      const a = tab(fetchA);
      const b = tab(fetchB);
      const who = await verifiedUser(app);
      const signIn = await a.signIn({ email: who.email, password: who.password });
      const expiresIn = tokensOf(signIn.data).expires_in;
      app.clock.advance(expiresIn * 1000);
      const tokenA = a.accessToken();
      expect(await b.accessToken()).to.be.a('string');
      wroteB();
      expect(await tokenA).to.be.a('string');
      await expectBothAlive(a, b, expiresIn);
    });

    it('with a lock manager shared by the tabs, parallel refreshes from both send exactly one request', async () => {
      const storage = memoryStorage();
      const a = await signedIn({ storage });
      // The Web Locks contract in one process: one holder per name, the others queued in order.
      const queues = new Map<string, Promise<unknown>>();
      const locks = {
        request<T>(name: string, callback: (lock: unknown) => Promise<T>): Promise<T> {
          const run = (queues.get(name) ?? Promise.resolve()).then(() => callback({ name }));
          queues.set(name, run.catch(() => undefined));
          return run;
        },
      };
      const counter = countingFetch();
      const tabs = [0, 1].map(() => createSession({ baseUrl: app.url, clock: app.clock, storage, fetch: counter.fetch, locks }));
      app.clock.advance(a.expiresIn * 1000);
      const results = await Promise.all(tabs.flatMap((tab) => Array.from({ length: 5 }, () => profile(tab))));
      expect(statuses(results)).to.deep.equal(Array(10).fill(200));
      expect(counter.count(refreshCall)).to.equal(1);
    });
  });
});
