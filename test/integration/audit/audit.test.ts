import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { totpCodes, type AuditRow } from '../../helpers/probes.js';
import { expectProblem, latestMessage, loggedInUser, registerUser, strongPassword, tokensOf, uniqueEmail } from '../../helpers/flows.js';

const newPassword = 'Fresh-Secret-2027?';

/** What a row must hold beyond its user and event. */
interface Expected {
  email: string;
  userAgent: string;
  sessionId?: string | null;
  details?: Record<string, unknown>;
}

/** The masked form of an email, computed independently: first and last character of the local part. */
const masked = (email: string) => email.replace(/^(.)(.*)(.)@/, '$1***$3@');

describe('audit log rows for account, session and 2FA events', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  /** A user agent no other test uses, so each row can be traced to the request that wrote it. */
  const agent = (what: string) => `AuditTest/1.0 (${what}; ${randomUUID()})`;
  const ua = (userAgent: string) => ({ 'user-agent': userAgent });
  const sidOf = (token: string) => decodeJwt(token).sid as string;
  const rowsOf = (userId: string, event: string): Promise<AuditRow[]> => app.db('audit_logs').where({ user_id: userId, event }).orderBy('created_at');

  function expectRow(row: AuditRow | undefined, userId: string, event: string, expected: Expected): void {
    expect(row, `no ${event} row`).to.not.equal(undefined);
    expect(row).to.include({ user_id: userId, event, ip: '127.0.0.1', user_agent: expected.userAgent, identifier: masked(expected.email) });
    expect(row!.identifier).not.to.contain(expected.email.split('@')[0]!);
    if (expected.sessionId !== undefined) expect(row!.session_id).to.equal(expected.sessionId);
    if (expected.details) expect(row!.details).to.deep.equal(expected.details);
  }

  /** Exactly one row of the event for the user, holding what is expected. */
  async function expectOneRow(userId: string, event: string, expected: Expected): Promise<AuditRow> {
    const rows = await rowsOf(userId, event);
    expect(rows, `${event} rows`).to.have.length(1);
    expectRow(rows[0], userId, event, expected);
    return rows[0]!;
  }

  async function login(email: string, userAgent: string, extra: Partial<sdk.LoginRequest> = {}): Promise<sdk.LoginSuccess> {
    const { data, error } = await sdk.login({ client: app.client, body: { email, password: strongPassword, ...extra }, headers: ua(userAgent) });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return tokensOf(data);
  }

  describe('sessions', () => {
    it('login.succeeded: one row per login with its session, method, amr, actor type and whether the device is new', async () => {
      const { body, user } = await registerUser(app);
      const verified = await sdk.verifyEmail({ client: app.client, body: { token: (await latestMessage(app, body.email)).token! } });
      expect(verified.error, JSON.stringify(verified.error)).to.equal(undefined);
      const laptop = agent('laptop');
      const first = await login(body.email, laptop);
      app.clock.advance(1000);
      const again = await login(body.email, laptop);
      app.clock.advance(1000);
      const phone = agent('phone');
      const other = await login(body.email, phone);

      const rows = await rowsOf(user.id, 'login.succeeded');
      expect(rows).to.have.length(3);
      const common = { auth_method: 'password', amr: ['pwd'], actor_type: 'citizen' };
      expectRow(rows[0], user.id, 'login.succeeded', { email: body.email, userAgent: laptop, sessionId: sidOf(first.access_token), details: { ...common, new_device: true } });
      expectRow(rows[1], user.id, 'login.succeeded', { email: body.email, userAgent: laptop, sessionId: sidOf(again.access_token), details: { ...common, new_device: false } });
      expectRow(rows[2], user.id, 'login.succeeded', { email: body.email, userAgent: phone, sessionId: sidOf(other.access_token), details: { ...common, new_device: true } });
    });

    it('refresh_token.reused: one row naming the revoked session, with the context of the reusing request', async () => {
      const { body, user } = await loggedInUser(app);
      const session = await login(body.email, agent('login'));
      const rotated = await sdk.refreshToken({ client: app.client, body: { refresh_token: session.refresh_token } });
      expect(rotated.error, JSON.stringify(rotated.error)).to.equal(undefined);
      app.clock.advance(3600 * 1000); // far past the grace window: presenting the old token is reuse
      const thief = agent('thief');
      expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: session.refresh_token }, headers: ua(thief) }), 401, 'refresh_token_reused');
      const sid = sidOf(session.access_token);
      await expectOneRow(user.id, 'refresh_token.reused', { email: body.email, userAgent: thief, sessionId: sid, details: { session_id: sid } });
    });

    it('session.revoked: revoking one session writes one row for it, with the reason', async () => {
      const { body, user, session } = await loggedInUser(app);
      const target = await login(body.email, agent('target'));
      const revoker = agent('revoker');
      const { response } = await sdk.revokeSession({ client: app.client, auth: session.access_token, path: { session_id: sidOf(target.access_token) }, headers: ua(revoker) });
      expect(response?.status).to.equal(204);
      await expectOneRow(user.id, 'session.revoked', { email: body.email, userAgent: revoker, sessionId: sidOf(target.access_token), details: { reason: 'user_revoked' } });
    });

    it('session.revoked: refusing an unknown session writes nothing', async () => {
      const { user, session } = await loggedInUser(app);
      expectProblem(await sdk.revokeSession({ client: app.client, auth: session.access_token, path: { session_id: randomUUID() } }), 404, 'session_not_found');
      expect(await rowsOf(user.id, 'session.revoked')).to.deep.equal([]);
    });

    it('session.revoked: revoking the other sessions writes one row per revoked session', async () => {
      const { body, user, session } = await loggedInUser(app);
      const others = [await login(body.email, agent('a')), await login(body.email, agent('b'))];
      const revoker = agent('revoker');
      const { data } = await sdk.revokeOtherSessions({ client: app.client, auth: session.access_token, headers: ua(revoker) });
      expect(data).to.deep.equal({ revoked_sessions: 2 });
      const rows = await rowsOf(user.id, 'session.revoked');
      expect(rows.map((r) => r.session_id).sort()).to.deep.equal(others.map((s) => sidOf(s.access_token)).sort());
      for (const row of rows) expectRow(row, user.id, 'session.revoked', { email: body.email, userAgent: revoker, details: { reason: 'user_revoked_others' } });
    });
  });

  describe('account', () => {
    it('profile.updated: names the fields whose value changed, never the values', async () => {
      const { body, user, session } = await loggedInUser(app, { first_name: 'Jean' });
      const editor = agent('editor');
      const patch: sdk.ProfileUpdateRequest = { first_name: 'Jean', last_name: 'Martin-Zébulon', consents: { marketing: true } };
      const { response } = await sdk.updateProfile({ client: app.client, auth: session.access_token, body: patch, headers: ua(editor) });
      expect(response?.status).to.equal(200);
      const row = await expectOneRow(user.id, 'profile.updated', {
        email: body.email,
        userAgent: editor,
        sessionId: sidOf(session.access_token),
        details: { fields: ['last_name', 'consents.marketing'] },
      });
      expect(JSON.stringify(row.details)).not.to.contain('Martin-Zébulon');
    });

    it('profile.updated: a patch that changes no value writes no row', async () => {
      const { user, session } = await loggedInUser(app, { first_name: 'Jean' });
      const { response } = await sdk.updateProfile({ client: app.client, auth: session.access_token, body: { first_name: 'Jean' } });
      expect(response?.status).to.equal(200);
      expect(await rowsOf(user.id, 'profile.updated')).to.deep.equal([]);
    });

    it('password.changed: one row with the number of sessions ended; a refused change writes none', async () => {
      const { body, user, session } = await loggedInUser(app);
      await login(body.email, agent('other'));
      const change = (old_password: string, headers?: Record<string, string>) =>
        sdk.changePassword({ client: app.client, auth: session.access_token, body: { old_password, new_password: newPassword, new_password_confirm: newPassword }, headers });
      expectProblem(await change('Wrong-Pass-2026!'), 401, 'invalid_current_password');
      expect(await rowsOf(user.id, 'password.changed')).to.deep.equal([]);
      const changer = agent('changer');
      expect((await change(strongPassword, ua(changer))).data).to.deep.equal({ revoked_sessions: 1 });
      await expectOneRow(user.id, 'password.changed', { email: body.email, userAgent: changer, sessionId: sidOf(session.access_token), details: { revoked_sessions: 1 } });
    });

    it('password.reset_requested: one row per link actually sent; none past the hourly limit, none for an unknown email', async () => {
      const { body, user } = await loggedInUser(app);
      const requester = agent('requester');
      for (let i = 0; i < 4; i++) {
        expect((await sdk.requestPasswordReset({ client: app.client, body: { email: body.email }, headers: ua(requester) })).response?.status).to.equal(202);
      }
      const rows = await rowsOf(user.id, 'password.reset_requested');
      expect(rows).to.have.length(3);
      for (const row of rows) expectRow(row, user.id, 'password.reset_requested', { email: body.email, userAgent: requester, sessionId: null, details: {} });

      const unknown = uniqueEmail('nobody');
      expect((await sdk.requestPasswordReset({ client: app.client, body: { email: unknown } })).response?.status).to.equal(202);
      expect(await app.db('audit_logs').where({ event: 'password.reset_requested', identifier: masked(unknown) }).whereNull('user_id')).to.deep.equal([]);
    });

    it('password.reset: one row with the number of sessions ended', async () => {
      const { body, user } = await loggedInUser(app);
      await login(body.email, agent('other'));
      await sdk.requestPasswordReset({ client: app.client, body: { email: body.email } });
      const token = (await latestMessage(app, body.email)).token!;
      const resetter = agent('resetter');
      const { response } = await sdk.confirmPasswordReset({ client: app.client, body: { token, new_password: newPassword, new_password_confirm: newPassword }, headers: ua(resetter) });
      expect(response?.status).to.equal(204);
      await expectOneRow(user.id, 'password.reset', { email: body.email, userAgent: resetter, sessionId: null, details: { revoked_sessions: 2 } });
    });

    it('a password change whose transaction fails writes no audit row and changes nothing', async () => {
      const { body, user, session } = await loggedInUser(app);
      const other = await login(body.email, agent('other'));
      // Make the change's own transaction fail for real: its "password changed" email cannot be queued.
      await app.db.raw(`create or replace function audit_test_refuse_outbox() returns trigger language plpgsql as $$
        begin
          if new.recipient = '${body.email}' then raise exception 'injected outbox failure'; end if;
          return new;
        end $$`);
      await app.db.raw('create trigger audit_test_refuse_outbox before insert on outbox_messages for each row execute function audit_test_refuse_outbox()');
      try {
        const result = await sdk.changePassword({
          client: app.client,
          auth: session.access_token,
          body: { old_password: strongPassword, new_password: newPassword, new_password_confirm: newPassword },
        });
        expectProblem(result, 500, 'internal_error');
      } finally {
        await app.db.raw('drop trigger audit_test_refuse_outbox on outbox_messages');
        await app.db.raw('drop function audit_test_refuse_outbox()');
      }
      expect(await rowsOf(user.id, 'password.changed')).to.deep.equal([]);
      expect((await sdk.getProfile({ client: app.client, auth: other.access_token })).response?.status).to.equal(200);
      expect((await sdk.login({ client: app.client, body: { email: body.email, password: strongPassword } })).response?.status).to.equal(200);
      expect((await app.db('users').where({ id: user.id }).first()).password_changed_at).to.equal(null);
    });
  });

  describe('two-factor authentication', () => {
    const { codeAt, wrongCode, nextStep } = totpCodes(() => app);

    /** A logged-in user who started enrolment; returns the secret. */
    async function enrolling() {
      const account = await loggedInUser(app);
      const { data, error } = await sdk.enableTwoFactor({ client: app.client, auth: account.session.access_token });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      return { ...account, secret: data!.secret };
    }

    async function enrolled() {
      const account = await enrolling();
      const confirmed = await sdk.confirmTwoFactor({ client: app.client, auth: account.session.access_token, body: { code: await codeAt(account.secret) } });
      expect(confirmed.error, JSON.stringify(confirmed.error)).to.equal(undefined);
      nextStep();
      return { ...account, backupCodes: confirmed.data!.backup_codes as string[] };
    }

    it('mfa.failed then mfa.enabled at confirmation: the wrong code and the enrolment each write one row', async () => {
      const { body, user, session, secret } = await enrolling();
      const sid = sidOf(session.access_token);
      const confirmer = agent('confirmer');
      const confirm = async (code: string) => sdk.confirmTwoFactor({ client: app.client, auth: session.access_token, body: { code }, headers: ua(confirmer) });
      expectProblem(await confirm(await wrongCode(secret)), 401, 'invalid_mfa_code');
      await expectOneRow(user.id, 'mfa.failed', { email: body.email, userAgent: confirmer, sessionId: sid, details: { method: 'totp', stage: 'confirm' } });
      expect(await rowsOf(user.id, 'mfa.enabled')).to.deep.equal([]);
      expect((await confirm(await codeAt(secret))).response?.status).to.equal(200);
      await expectOneRow(user.id, 'mfa.enabled', { email: body.email, userAgent: confirmer, sessionId: sid, details: {} });
      expect(await rowsOf(user.id, 'mfa.failed')).to.have.length(1);
    });

    it('mfa.enabled through a setup token: no session yet, then the finished login writes login.succeeded with pwd and otp', async () => {
      const registered = await registerUser(app);
      await sdk.verifyEmail({ client: app.client, body: { token: registered.verificationToken } });
      await app.db('user_actor_types').insert({ user_id: registered.user.id, actor_type: 'admin' });
      const loginAgent = agent('admin login');
      const paused = await sdk.login({ client: app.client, body: { email: registered.body.email, password: strongPassword }, headers: ua(loginAgent) });
      const setupToken = (paused.data as sdk.MfaChallenge).mfa_token;
      const { data } = await sdk.enableTwoFactor({ client: app.client, auth: setupToken });
      const confirmer = agent('setup confirm');
      const confirmed = await sdk.confirmTwoFactor({ client: app.client, auth: setupToken, body: { code: await codeAt(data!.secret) }, headers: ua(confirmer) });
      expect(confirmed.error, JSON.stringify(confirmed.error)).to.equal(undefined);
      await expectOneRow(registered.user.id, 'mfa.enabled', { email: registered.body.email, userAgent: confirmer, sessionId: null });
      const loginRow = await expectOneRow(registered.user.id, 'login.succeeded', { email: registered.body.email, userAgent: loginAgent });
      expect(loginRow.session_id).to.equal(sidOf(confirmed.data!.login!.access_token));
      expect(loginRow.details).to.include({ actor_type: 'admin', auth_method: 'password' });
      expect(loginRow.details.amr).to.deep.equal(['pwd', 'otp']);
    });

    it('mfa.failed at login verification: one row per wrong code, with the method; none for the right one', async () => {
      const { body, user, secret, backupCodes } = await enrolled();
      const challenge = async () => (await sdk.login({ client: app.client, body: { email: body.email, password: strongPassword } })).data as sdk.MfaChallenge;
      const verifier = agent('verifier');
      const verify = (b: sdk.TwoFactorVerifyRequest) => sdk.verifyTwoFactor({ client: app.client, body: b, headers: ua(verifier) });
      const paused = await challenge();
      expectProblem(await verify({ mfa_token: paused.mfa_token, code: await wrongCode(secret) }), 401, 'invalid_mfa_code');
      expectProblem(await verify({ mfa_token: paused.mfa_token, backup_code: 'ZZZZZ-ZZZZZ' }), 401, 'invalid_mfa_code');
      const rows = await rowsOf(user.id, 'mfa.failed');
      expect(rows.map((r) => r.details)).to.have.deep.members([
        { method: 'totp', stage: 'verify' },
        { method: 'backup_code', stage: 'verify' },
      ]);
      for (const row of rows) expectRow(row, user.id, 'mfa.failed', { email: body.email, userAgent: verifier, sessionId: null });
      expect((await verify({ mfa_token: paused.mfa_token, backup_code: backupCodes[0]! })).response?.status).to.equal(200);
      expect(await rowsOf(user.id, 'mfa.failed')).to.have.length(2);
    });

    it('mfa.backup_codes_regenerated: one row; a wrong password writes none', async () => {
      const { body, user, session } = await enrolled();
      const regenerator = agent('regenerator');
      expectProblem(await sdk.regenerateBackupCodes({ client: app.client, auth: session.access_token, body: { password: 'Wrong-Pass-2026!' } }), 401, 'invalid_current_password');
      expect(await rowsOf(user.id, 'mfa.backup_codes_regenerated')).to.deep.equal([]);
      const { response } = await sdk.regenerateBackupCodes({ client: app.client, auth: session.access_token, body: { password: strongPassword }, headers: ua(regenerator) });
      expect(response?.status).to.equal(200);
      await expectOneRow(user.id, 'mfa.backup_codes_regenerated', { email: body.email, userAgent: regenerator, sessionId: sidOf(session.access_token), details: {} });
    });

    it('mfa.failed then mfa.disabled at removal: the wrong code writes mfa.failed, the right one mfa.disabled', async () => {
      const { body, user, session, secret } = await enrolled();
      const sid = sidOf(session.access_token);
      const remover = agent('remover');
      const disable = (code: string) => sdk.disableTwoFactor({ client: app.client, auth: session.access_token, body: { password: strongPassword, code }, headers: ua(remover) });
      expectProblem(await disable('ZZZZZ-ZZZZZ'), 401, 'invalid_mfa_code');
      await expectOneRow(user.id, 'mfa.failed', { email: body.email, userAgent: remover, sessionId: sid, details: { method: 'backup_code', stage: 'disable' } });
      expect(await rowsOf(user.id, 'mfa.disabled')).to.deep.equal([]);
      expect((await disable(await codeAt(secret))).response?.status).to.equal(204);
      await expectOneRow(user.id, 'mfa.disabled', { email: body.email, userAgent: remover, sessionId: sid, details: {} });
    });
  });
});
