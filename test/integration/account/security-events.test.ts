import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, registerUser, strongPassword, tokensOf } from '../../helpers/flows.js';

const eventFields = ['created_at', 'details', 'event', 'id', 'identifier', 'ip', 'session_id', 'user_agent'];

describe('the user’s own security events (GET /auth/security-events)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const list = (accessToken: string, query?: sdk.ListSecurityEventsData['query']) => sdk.listSecurityEvents({ client: app.client, auth: accessToken, query });
  const login = async (email: string, userAgent: string) =>
    tokensOf((await sdk.login({ client: app.client, body: { email, password: strongPassword }, headers: { 'user-agent': userAgent } })).data);
  /** The ids of a user's audit rows, newest first, straight from the table. */
  const storedIds = async (userId: string): Promise<string[]> =>
    app.db('audit_logs').where({ user_id: userId }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).pluck('id');

  /** Every page, following next_cursor. */
  async function allPages(accessToken: string, limit: number): Promise<sdk.SecurityEvent[][]> {
    const pages: sdk.SecurityEvent[][] = [];
    let cursor: string | undefined;
    do {
      const { data, error } = await list(accessToken, { limit, ...(cursor ? { cursor } : {}) });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      pages.push(data!.items);
      cursor = data!.next_cursor ?? undefined;
      expect(pages.length, 'too many pages').to.be.lessThan(50);
    } while (cursor);
    return pages;
  }

  it('lists the caller’s own events only, newest first, each with the schema’s fields', async () => {
    const me = await loggedInUser(app);
    const other = await loggedInUser(app);
    app.clock.advance(1000);
    await sdk.updateProfile({ client: app.client, auth: me.session.access_token, body: { last_name: 'Lefèvre' }, headers: { 'user-agent': 'Editor/2' } });
    await sdk.updateProfile({ client: app.client, auth: other.session.access_token, body: { last_name: 'Other' } });
    app.clock.advance(1000);
    await login(me.body.email, 'Browser/3');
    await login(other.body.email, 'Browser/3');

    const { data, response } = await list(me.session.access_token);
    expect(response?.status).to.equal(200);
    expect(data!.next_cursor).to.equal(null);
    expect(data!.items.map((e) => e.id)).to.deep.equal(await storedIds(me.user.id));
    const theirs: string[] = await app.db('audit_logs').where({ user_id: other.user.id }).pluck('id');
    expect(theirs.length).to.be.greaterThan(0);
    expect(data!.items.map((e) => e.id)).to.not.include.members(theirs);

    const mine = data!.items.filter((e) => ['login.succeeded', 'profile.updated'].includes(e.event));
    expect(mine.map((e) => e.event)).to.deep.equal(['login.succeeded', 'profile.updated', 'login.succeeded']);
    const [latest, edit] = mine;
    expect(Object.keys(latest!).sort()).to.deep.equal(eventFields);
    expect(latest).to.include({ ip: '127.0.0.1', user_agent: 'Browser/3', identifier: me.body.email.replace(/^(.)(.*)(.)@/, '$1***$3@') });
    expect(latest!.details).to.include({ auth_method: 'password', actor_type: 'citizen' });
    expect(latest!.created_at).to.equal(app.clock.now().toISOString());
    expect(edit).to.include({ user_agent: 'Editor/2', session_id: decodeJwt(me.session.access_token).sid as string });
    expect(edit!.details).to.deep.equal({ fields: ['last_name'] });
    for (const e of data!.items) expect(JSON.stringify(e)).not.to.contain(me.body.email);
  });

  it('pages with limit and cursor: every event once, in order, even among events of the same instant', async () => {
    const me = await loggedInUser(app);
    for (let i = 0; i < 3; i++) {
      app.clock.advance(1000);
      await login(me.body.email, `Device/${i}`);
    }
    // Three revocations written in the same instant: the id breaks the tie.
    expect((await sdk.revokeOtherSessions({ client: app.client, auth: me.session.access_token })).data).to.deep.equal({ revoked_sessions: 3 });
    const expected = await storedIds(me.user.id);
    expect(expected.length).to.be.greaterThan(6);

    const pages = await allPages(me.session.access_token, 2);
    expect(pages.slice(0, -1).every((p) => p.length === 2)).to.equal(true);
    expect(pages[pages.length - 1]!.length).to.be.within(1, 2);
    expect(pages.flat().map((e) => e.id)).to.deep.equal(expected);
  });

  it('uses 20 as the default page size', async () => {
    const me = await loggedInUser(app);
    for (let i = 0; i < 20; i++) await login(me.body.email, `Device/${i}`);
    const { data } = await list(me.session.access_token);
    expect(data!.items).to.have.length(20);
    expect(data!.next_cursor).to.be.a('string');
  });

  it('refuses a cursor that is not one of ours with 400 validation_failed on /query/cursor', async () => {
    const me = await loggedInUser(app);
    const forged = Buffer.from('not-a-cursor').toString('base64url');
    const problem = expectProblem(await list(me.session.access_token, { cursor: forged }), 400, 'validation_failed');
    expect(problem.errors!.map((e) => e.path)).to.deep.equal(['/query/cursor']);
    expectProblem(await list(me.session.access_token, { cursor: 'not base64!' }), 400, 'validation_failed');
    expectProblem(await list(me.session.access_token, { limit: 101 }), 400, 'validation_failed');
  });

  it('refuses a request without a token with 401', async () => {
    expectProblem(await sdk.listSecurityEvents({ client: app.client }), 401, 'authentication_required');
  });

  it('refuses the restricted setup token of a login awaiting 2FA enrolment with 403 mfa_setup_required', async () => {
    const registered = await registerUser(app);
    await sdk.verifyEmail({ client: app.client, body: { token: registered.verificationToken } });
    await app.db('user_actor_types').insert({ user_id: registered.user.id, actor_type: 'admin' });
    const paused = (await sdk.login({ client: app.client, body: { email: registered.body.email, password: strongPassword } })).data as sdk.MfaChallenge;
    expect(paused.mfa_setup_required).to.equal(true);
    expectProblem(await list(paused.mfa_token), 403, 'mfa_setup_required');
  });
});
