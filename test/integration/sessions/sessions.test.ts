import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, registerUser, tokensOf } from '../../helpers/flows.js';

describe('session list, revocation and new-device emails', () => {
  let app: TestApp;
  let startedAt: Date;
  useTestApp((started) => (app = started));
  beforeEach(() => {
    startedAt = app.clock.now();
  });

  type Credentials = { email: string; password: string };
  const sidOf = (token: string) => decodeJwt(token).sid as string;
  const profileWith = (token: string) => sdk.getProfile({ client: app.client, auth: token });
  const refresh = (token: string) => sdk.refreshToken({ client: app.client, body: { refresh_token: token } });
  const list = (token: string, query?: sdk.ListSessionsData['query']) => sdk.listSessions({ client: app.client, auth: token, query });
  const revokeOne = (token: string, sessionId: string) => sdk.revokeSession({ client: app.client, auth: token, path: { session_id: sessionId } });
  const revokeOthers = (token: string) => sdk.revokeOtherSessions({ client: app.client, auth: token });

  /** Registers and verifies a user; no session yet. */
  async function activeUser(overrides: Partial<sdk.RegisterRequest> = {}): Promise<Credentials & { id: string }> {
    const { body, user, verificationToken } = await registerUser(app, overrides);
    const verified = await sdk.verifyEmail({ client: app.client, body: { token: verificationToken } });
    expect(verified.error, JSON.stringify(verified.error)).to.equal(undefined);
    return { email: body.email, password: body.password, id: user.id };
  }

  /** Logs in from a given user agent (and device). */
  async function login(who: Credentials, userAgent: string, extra: Partial<sdk.LoginRequest> = {}): Promise<sdk.LoginSuccess> {
    const { data, error } = await sdk.login({ client: app.client, body: { email: who.email, password: who.password, ...extra }, headers: { 'user-agent': userAgent } });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return tokensOf(data);
  }

  async function messagesTo(email: string, template: string): Promise<sdk.OutboxMessage[]> {
    const { data, error } = await sdk.listDevOutbox({ client: app.client, query: { to: email } });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return data!.items.filter((m) => m.template === template);
  }

  async function expectDead(session: sdk.LoginSuccess): Promise<void> {
    expectProblem(await profileWith(session.access_token), 401, 'session_revoked');
    expectProblem(await refresh(session.refresh_token), 401, 'session_revoked');
  }

  async function expectAlive(session: sdk.LoginSuccess): Promise<void> {
    expect((await profileWith(session.access_token)).response?.status).to.equal(200);
  }

  describe('listing', () => {
    it('lists each live session, newest first, with its device, ip, user agent and method; only the caller’s is current', async () => {
      const who = await activeUser();
      const laptop = await login(who, 'Firefox/130 (Laptop)', { device: { name: 'Jean’s laptop', type: 'desktop' } });
      app.clock.advance(1000);
      const phone = await login(who, 'Safari/17 (iPhone)', { device: { name: 'Jean’s phone', type: 'mobile' } });
      app.clock.advance(1000);
      const bare = await login(who, 'curl/8');

      const { data, response } = await list(phone.access_token);
      expect(response?.status).to.equal(200);
      expect(data!.next_cursor).to.equal(null);
      expect(data!.items.map((s) => s.id)).to.deep.equal([bare, phone, laptop].map((s) => sidOf(s.access_token)));
      const [b, p, l] = data!.items;
      expect(p).to.include({ current: true, device_name: 'Jean’s phone', device_type: 'mobile', user_agent: 'Safari/17 (iPhone)', ip: '127.0.0.1' });
      expect(l).to.include({ current: false, device_name: 'Jean’s laptop', device_type: 'desktop', user_agent: 'Firefox/130 (Laptop)', ip: '127.0.0.1' });
      expect(b).to.include({ current: false, device_name: null, device_type: null, user_agent: 'curl/8' });
      for (const s of data!.items) {
        expect(s).to.include({ auth_method: 'password', actor_type: 'citizen' });
        expect(s.amr).to.deep.equal(['pwd']);
        expect(new Date(s.expires_at).getTime()).to.be.greaterThan(new Date(s.created_at).getTime());
      }
      expect(l!.created_at).to.equal(new Date(startedAt).toISOString());
      expect(l!.last_active_at).to.equal(l!.created_at);
    });

    it('does not list revoked or expired sessions, nor another user’s', async () => {
      const who = await activeUser();
      const loggedOut = await login(who, 'Agent/1');
      expect((await sdk.logout({ client: app.client, auth: loggedOut.access_token, body: {} })).response?.status).to.equal(204);
      const short = await login(who, 'Agent/2', { remember_me: false });
      const long = await login(who, 'Agent/3', { remember_me: true });
      await login(await activeUser(), 'Agent/1');
      app.clock.advance(25 * 3600 * 1000); // past the 24 h session, within the 7 days one
      const fresh = await login(who, 'Agent/4');

      const { data } = await list(fresh.access_token);
      expect(data!.items.map((s) => s.id)).to.have.members([sidOf(fresh.access_token), sidOf(long.access_token)]);
      expect(data!.items).to.have.length(2);
      expect(data!.items.map((s) => s.id)).not.to.include(sidOf(short.access_token));
    });

    it('pages with limit 1 through every session without overlap, ending with next_cursor null', async () => {
      const who = await activeUser();
      const sessions: sdk.LoginSuccess[] = [];
      // Same instant on purpose: the id breaks the tie, so the order stays total.
      for (let i = 0; i < 4; i++) sessions.push(await login(who, `Agent/${i}`));
      const all = (await list(sessions[0]!.access_token, { limit: 100 })).data!.items.map((s) => s.id);
      expect(all).to.have.members(sessions.map((s) => sidOf(s.access_token)));

      const walked: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const { data, response } = await list(sessions[0]!.access_token, { limit: 1, cursor });
        expect(response?.status).to.equal(200);
        expect(data!.items).to.have.length(1);
        walked.push(data!.items[0]!.id);
        if (data!.next_cursor === null) break;
        cursor = data!.next_cursor;
      }
      expect(walked).to.deep.equal(all);
    });

    it('orders by creation time across pages, newest first', async () => {
      const who = await activeUser();
      const first = await login(who, 'Agent/old');
      app.clock.advance(60_000);
      const second = await login(who, 'Agent/new');
      const page1 = (await list(first.access_token, { limit: 1 })).data!;
      expect(page1.items.map((s) => s.id)).to.deep.equal([sidOf(second.access_token)]);
      const page2 = (await list(first.access_token, { limit: 1, cursor: page1.next_cursor! })).data!;
      expect(page2.items.map((s) => s.id)).to.deep.equal([sidOf(first.access_token)]);
      expect(page2.next_cursor).to.equal(null);
    });

    it('refuses an unreadable cursor with 400 validation_failed on /query/cursor', async () => {
      const who = await activeUser();
      const session = await login(who, 'Agent/1');
      const garbage = Buffer.from('not a cursor').toString('base64url');
      const problem = expectProblem(await list(session.access_token, { cursor: garbage }), 400, 'validation_failed');
      expect(problem.errors?.map((e) => e.path)).to.deep.equal(['/query/cursor']);
      const forgedTime = Buffer.from(`99999999999999999999:${randomUUID()}`).toString('base64url');
      expectProblem(await list(session.access_token, { cursor: forgedTime }), 400, 'validation_failed');
      expectProblem(await list(session.access_token, { cursor: 'not/base64url' }), 400, 'validation_failed');
    });
  });

  describe('revoking one session', () => {
    it('kills that session’s access token at once and its refresh token; the others keep working', async () => {
      const who = await activeUser();
      const caller = await login(who, 'Agent/caller');
      const target = await login(who, 'Agent/target');
      const bystander = await login(who, 'Agent/bystander');
      await expectAlive(target); // its "live" state is now cached on the fast path

      const { response } = await revokeOne(caller.access_token, sidOf(target.access_token));
      expect(response?.status).to.equal(204);
      await expectDead(target);
      await expectAlive(caller);
      await expectAlive(bystander);
      expect((await refresh(bystander.refresh_token)).response?.status).to.equal(200);
      const row = await app.db('sessions').where({ id: sidOf(target.access_token) }).first();
      expect(row.revoked_reason).to.equal('user_revoked');
      const listed = (await list(caller.access_token)).data!.items.map((s) => s.id);
      expect(listed).not.to.include(sidOf(target.access_token));
    });

    it('answers 404 session_not_found for another user’s session, and leaves it working', async () => {
      const me = await login(await activeUser(), 'Agent/me');
      const other = await login(await activeUser(), 'Agent/other');
      expectProblem(await revokeOne(me.access_token, sidOf(other.access_token)), 404, 'session_not_found');
      await expectAlive(other);
      expect((await refresh(other.refresh_token)).response?.status).to.equal(200);
    });

    it('answers 404 session_not_found for an unknown id and for a session already ended', async () => {
      const who = await activeUser();
      const caller = await login(who, 'Agent/caller');
      const target = await login(who, 'Agent/target');
      expectProblem(await revokeOne(caller.access_token, randomUUID()), 404, 'session_not_found');
      expect((await revokeOne(caller.access_token, sidOf(target.access_token))).response?.status).to.equal(204);
      expectProblem(await revokeOne(caller.access_token, sidOf(target.access_token)), 404, 'session_not_found');
    });

    it('answers 404 for an expired session', async () => {
      const who = await activeUser();
      const short = await login(who, 'Agent/short', { remember_me: false });
      app.clock.advance(25 * 3600 * 1000);
      const caller = await login(who, 'Agent/caller');
      expectProblem(await revokeOne(caller.access_token, sidOf(short.access_token)), 404, 'session_not_found');
    });

    it('revoking the current session logs it out', async () => {
      const who = await activeUser();
      const caller = await login(who, 'Agent/caller');
      const other = await login(who, 'Agent/other');
      expect((await revokeOne(caller.access_token, sidOf(caller.access_token))).response?.status).to.equal(204);
      await expectDead(caller);
      await expectAlive(other);
    });

    it('refuses a malformed session id with 400', async () => {
      const caller = await login(await activeUser(), 'Agent/caller');
      expectProblem(await revokeOne(caller.access_token, 'not-a-uuid'), 400, 'validation_failed');
    });
  });

  describe('revoking the other sessions', () => {
    it('revokes exactly the others: their access and refresh tokens die, the current one keeps working', async () => {
      const who = await activeUser();
      const caller = await login(who, 'Agent/caller');
      const others = [await login(who, 'Agent/1'), await login(who, 'Agent/2'), await login(who, 'Agent/3')];
      const stranger = await login(await activeUser(), 'Agent/1');
      for (const s of others) await expectAlive(s);

      const { data, response } = await revokeOthers(caller.access_token);
      expect(response?.status).to.equal(200);
      expect(data).to.deep.equal({ revoked_sessions: 3 });
      for (const s of others) await expectDead(s);
      await expectAlive(caller);
      await expectAlive(stranger);
      expect((await refresh(caller.refresh_token)).response?.status).to.equal(200);
      const listed = (await list(caller.access_token)).data!.items;
      expect(listed.map((s) => s.id)).to.deep.equal([sidOf(caller.access_token)]);
      expect((await revokeOthers(caller.access_token)).data).to.deep.equal({ revoked_sessions: 0 });
    });
  });

  it('requires a bearer token for every session operation', async () => {
    expectProblem(await sdk.listSessions({ client: app.client }), 401, 'authentication_required');
    expectProblem(await sdk.revokeOtherSessions({ client: app.client }), 401, 'authentication_required');
    expectProblem(await sdk.revokeSession({ client: app.client, path: { session_id: randomUUID() } }), 401, 'authentication_required');
  });

  describe('new-device sign-in email', () => {
    it('sends nothing for the first session, nor for a known device; emails a new device in the user’s language', async () => {
      const who = await activeUser({ language: 'es' });
      await login(who, 'Agent/home', { device: { name: 'Casa' } });
      expect(await messagesTo(who.email, 'new_device_sign_in')).to.have.length(0);
      await login(who, 'Agent/home', { device: { name: 'Casa' } });
      expect(await messagesTo(who.email, 'new_device_sign_in')).to.have.length(0);

      await login(who, 'Agent/travel', { device: { name: 'Tableta', type: 'tablet' } });
      const sent = await messagesTo(who.email, 'new_device_sign_in');
      expect(sent).to.have.length(1);
      const [message] = sent;
      expect(message!.subject).to.equal('Nuevo inicio de sesión en su cuenta');
      expect(message!.body).to.include('Dispositivo: Tableta (Agent/travel)');
      expect(message!.body).to.include('Dirección IP: 127.0.0.1');
      expect(message!.body).to.include('Hola Jean');
      expect(message!.body).to.include(`${app.clock.now().toISOString().replace('T', ' ').slice(0, 16)} (UTC)`);
      expect(message!.link).to.equal('http://app.sesame.test/sessions');
    });

    it('treats the same user agent under another device name as a new device', async () => {
      const who = await activeUser({ language: 'en' });
      await login(who, 'Agent/same');
      await login(who, 'Agent/same', { device: { name: 'Work laptop' } });
      const sent = await messagesTo(who.email, 'new_device_sign_in');
      expect(sent).to.have.length(1);
      expect(sent[0]!.subject).to.equal('New sign-in to your account');
      expect(sent[0]!.body).to.include('Device: Work laptop (Agent/same)');
    });

    it('counts a device seen in an ended session as known', async () => {
      const who = await activeUser();
      const first = await login(who, 'Agent/old');
      await sdk.logout({ client: app.client, auth: first.access_token, body: {} });
      await login(who, 'Agent/old');
      expect(await messagesTo(who.email, 'new_device_sign_in')).to.have.length(0);
    });
  });
});
