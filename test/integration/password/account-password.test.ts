import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, latestMessage, loggedInUser, registerUser, strongPassword, tokensOf, uniqueEmail } from '../../helpers/flows.js';

const newPassword = 'Fresh-Secret-2027?';
const hourMs = 3600 * 1000;

describe('password change and reset', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const login = (email: string, password: string) => sdk.login({ client: app.client, body: { email, password } });
  const newSession = async (email: string) => tokensOf((await login(email, strongPassword)).data);
  const profileStatus = async (accessToken: string) => (await sdk.getProfile({ client: app.client, auth: accessToken })).response?.status;
  const messagesTo = async (email: string, template: string) => {
    const { data } = await sdk.listDevOutbox({ client: app.client, query: { to: email, limit: 100 } });
    return data!.items.filter((m) => m.template === template);
  };
  const requestReset = (email: string) => sdk.requestPasswordReset({ client: app.client, body: { email } });
  const confirmReset = (token: string, password = newPassword, confirmation = password) =>
    sdk.confirmPasswordReset({ client: app.client, body: { token, new_password: password, new_password_confirm: confirmation } });
  /** Requests a reset and returns the emailed token. */
  const resetToken = async (email: string) => {
    expect((await requestReset(email)).response?.status).to.equal(202);
    const message = await latestMessage(app, email);
    expect(message.template).to.equal('password_reset');
    return message.token!;
  };

  describe('change', () => {
    const change = (accessToken: string, body: Partial<sdk.PasswordChangeRequest> = {}) =>
      sdk.changePassword({ client: app.client, auth: accessToken, body: { old_password: strongPassword, new_password: newPassword, new_password_confirm: newPassword, ...body } });

    it('sets the new password, ends every other session and keeps this one', async () => {
      const { session, body, user } = await loggedInUser(app);
      const second = await newSession(body.email);
      const third = await newSession(body.email);
      expect(await profileStatus(second.access_token)).to.equal(200); // cached as live in the fast path
      const { data, response } = await change(session.access_token);
      expect(response?.status).to.equal(200);
      expect(data).to.deep.equal({ revoked_sessions: 2 });
      expect(await profileStatus(session.access_token)).to.equal(200);
      expectProblem(await sdk.getProfile({ client: app.client, auth: second.access_token }), 401, 'session_revoked');
      expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: third.refresh_token } }), 401, 'session_revoked');
      expect((await sdk.refreshToken({ client: app.client, body: { refresh_token: session.refresh_token } })).response?.status).to.equal(200);
      const reasons = await app.db('sessions').whereIn('id', [second, third].map((s) => decodeJwt(s.access_token).sid as string)).pluck('revoked_reason');
      expect(reasons).to.deep.equal(['password_changed', 'password_changed']);
      expect((await login(body.email, newPassword)).response?.status).to.equal(200);
      expectProblem(await login(body.email, strongPassword), 401, 'invalid_credentials');
      const stored = await app.db('users').where({ id: user.id }).first();
      expect(stored.password_changed_at.getTime()).to.equal(app.clock.now().getTime());
    });

    it('sends a "password changed" email in the user\'s language', async () => {
      const { session, body } = await loggedInUser(app, { language: 'en' });
      await change(session.access_token);
      const message = await latestMessage(app, body.email);
      expect(message).to.include({ template: 'password_changed', subject: 'Your password was changed', link: 'http://app.sesame.test/reset-password' });
      expect(message.body).to.contain(app.clock.now().toISOString().replace('T', ' ').slice(0, 16));
      expect(message.body).not.to.contain(newPassword);
    });

    it('answers 0 revoked sessions when there is no other session', async () => {
      const { session } = await loggedInUser(app);
      expect((await change(session.access_token)).data).to.deep.equal({ revoked_sessions: 0 });
    });

    it('refuses a wrong current password with 401 invalid_current_password and no bearer challenge', async () => {
      const { session, body } = await loggedInUser(app);
      const other = await newSession(body.email);
      const result = await change(session.access_token, { old_password: 'Wrong-Pass-2026!' });
      expectProblem(result, 401, 'invalid_current_password');
      expect(result.response?.headers.get('www-authenticate')).to.equal(null);
      expect(await profileStatus(session.access_token)).to.equal(200);
      expect(await profileStatus(other.access_token)).to.equal(200);
      expect((await login(body.email, strongPassword)).response?.status).to.equal(200);
    });

    it('refuses the current password as the new one with 400 password_unchanged', async () => {
      const { session } = await loggedInUser(app);
      expectProblem(await change(session.access_token, { new_password: strongPassword, new_password_confirm: strongPassword }), 400, 'password_unchanged');
    });

    it('refuses a confirmation that differs with 400 password_mismatch, checked first', async () => {
      const { session } = await loggedInUser(app);
      const problem = expectProblem(await change(session.access_token, { old_password: 'Wrong-Pass-2026!', new_password: 'weak', new_password_confirm: 'other' }), 400, 'password_mismatch');
      expect(problem.errors!.map((e) => e.path)).to.deep.equal(['/body/new_password_confirm']);
    });

    for (const [what, password] of [
      ['too simple', 'abcdefgh'],
      ['a common one with digits appended', 'Password123!'],
      ['built on the user\'s name', 'Dupont-2026!x'],
    ] as const) {
      it(`refuses a new password that is ${what} with 400 password_too_weak, before checking the current one`, async () => {
        const { session, body } = await loggedInUser(app);
        const problem = expectProblem(await change(session.access_token, { old_password: 'Wrong-Pass-2026!', new_password: password, new_password_confirm: password }), 400, 'password_too_weak');
        expect(new Set(problem.errors!.map((e) => e.path))).to.deep.equal(new Set(['/body/new_password']));
        expect((await login(body.email, strongPassword)).response?.status).to.equal(200);
      });
    }

    it('refuses a request without a token with 401', async () => {
      expectProblem(await sdk.changePassword({ client: app.client, body: { old_password: strongPassword, new_password: newPassword, new_password_confirm: newPassword } }), 401, 'authentication_required');
    });
  });

  describe('reset', () => {
    it('answers a known and an unknown email with the same 202 and body; only the known one gets a link', async () => {
      const { body, user } = await loggedInUser(app);
      const unknownEmail = uniqueEmail('nobody');
      const known = await requestReset(body.email);
      const unknown = await requestReset(unknownEmail);
      expect(known.response?.status).to.equal(202);
      expect(unknown.response?.status).to.equal(202);
      expect(JSON.stringify(known.data)).to.equal(JSON.stringify(unknown.data));
      expect(known.data).to.deep.equal({ message: 'If an account matches, a message has been sent to it.' });
      expect(known.response?.headers.get('content-type')).to.equal(unknown.response?.headers.get('content-type'));
      const message = await latestMessage(app, body.email);
      expect(message).to.include({ template: 'password_reset', subject: 'Réinitialisez votre mot de passe', link: `http://app.sesame.test/reset-password?token=${message.token}` });
      expect(message.body).to.contain(message.link!);
      const stored = await app.db('password_reset_tokens').where({ user_id: user.id });
      expect(stored).to.have.length(1);
      expect(stored[0].token_hash).not.to.equal(message.token);
      expect(stored[0].expires_at.getTime() - stored[0].created_at.getTime()).to.equal(hourMs);
      expect((await sdk.listDevOutbox({ client: app.client, query: { to: unknownEmail } })).data!.items).to.deep.equal([]);
    });

    it('sets the new password once, ends every session and sends a "password changed" email', async () => {
      const { session, body } = await loggedInUser(app);
      const other = await newSession(body.email);
      const token = await resetToken(body.email);
      const { response } = await confirmReset(token);
      expect(response?.status).to.equal(204);
      for (const s of [session, other]) {
        expectProblem(await sdk.getProfile({ client: app.client, auth: s.access_token }), 401, 'session_revoked');
        expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: s.refresh_token } }), 401, 'session_revoked');
      }
      const reasons = await app.db('sessions').whereIn('id', [session, other].map((s) => decodeJwt(s.access_token).sid as string)).pluck('revoked_reason');
      expect(reasons).to.deep.equal(['password_reset', 'password_reset']);
      expect((await latestMessage(app, body.email)).template).to.equal('password_changed');
      expect((await login(body.email, newPassword)).response?.status).to.equal(200);
      expectProblem(await login(body.email, strongPassword), 401, 'invalid_credentials');
      expectProblem(await confirmReset(token, 'Another-Secret-2028#'), 400, 'reset_token_invalid');
      expect((await login(body.email, newPassword)).response?.status).to.equal(200);
    });

    it('kills the other outstanding links of the user once one is used', async () => {
      const { body } = await loggedInUser(app);
      const first = await resetToken(body.email);
      const second = await resetToken(body.email);
      expect((await confirmReset(second)).response?.status).to.equal(204);
      expectProblem(await confirmReset(first, 'Another-Secret-2028#'), 400, 'reset_token_invalid');
    });

    it('refuses a link older than one hour with 400 reset_token_expired', async () => {
      const { body } = await loggedInUser(app);
      const token = await resetToken(body.email);
      app.clock.advance(3601 * 1000);
      expectProblem(await confirmReset(token), 400, 'reset_token_expired');
      expect((await login(body.email, strongPassword)).response?.status).to.equal(200);
    });

    it('refuses an unknown token with 400 reset_token_invalid', async () => {
      expectProblem(await confirmReset('not-a-real-token'), 400, 'reset_token_invalid');
    });

    it('refuses a weak new password and leaves the link usable', async () => {
      const { body } = await loggedInUser(app);
      const token = await resetToken(body.email);
      const problem = expectProblem(await confirmReset(token, 'Password123!'), 400, 'password_too_weak');
      expect(problem.errors!.map((e) => e.path)).to.deep.equal(['/body/new_password']);
      expect((await confirmReset(token)).response?.status).to.equal(204);
    });

    it('refuses a confirmation that differs with 400 password_mismatch and leaves the link usable', async () => {
      const { body } = await loggedInUser(app);
      const token = await resetToken(body.email);
      const problem = expectProblem(await confirmReset(token, newPassword, 'Something-Else-1!'), 400, 'password_mismatch');
      expect(problem.errors!.map((e) => e.path)).to.deep.equal(['/body/new_password_confirm']);
      expect((await confirmReset(token)).response?.status).to.equal(204);
    });

    it('sends at most 3 links an hour, then sends again an hour later, always answering the same 202', async () => {
      const { body } = await loggedInUser(app);
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await requestReset(body.email));
      expect(answers.map((a) => a.response?.status)).to.deep.equal([202, 202, 202, 202]);
      expect(new Set(answers.map((a) => JSON.stringify(a.data))).size).to.equal(1);
      expect(await messagesTo(body.email, 'password_reset')).to.have.length(3);
      app.clock.advance(hourMs + 1000);
      await requestReset(body.email);
      expect(await messagesTo(body.email, 'password_reset')).to.have.length(4);
    });

    it('holds to 3 links an hour under parallel requests', async () => {
      const { body } = await loggedInUser(app);
      const answers = await Promise.all(Array.from({ length: 6 }, () => requestReset(body.email)));
      expect(answers.every((a) => a.response?.status === 202)).to.equal(true);
      expect(await messagesTo(body.email, 'password_reset')).to.have.length(3);
    });

    it('activates an account still pending verification, which can then log in', async () => {
      const { body, user } = await registerUser(app);
      expectProblem(await login(body.email, strongPassword), 403, 'email_not_verified');
      const token = await resetToken(body.email);
      expect((await confirmReset(token)).response?.status).to.equal(204);
      const stored = await app.db('users').where({ id: user.id }).first();
      expect(stored.status).to.equal('active');
      expect(stored.email_verified_at.getTime()).to.equal(app.clock.now().getTime());
      const { data } = await login(body.email, newPassword);
      expect(tokensOf(data).user).to.include({ status: 'active', email_verified: true });
    });

    it('refuses a malformed email with 400 validation_failed', async () => {
      expectProblem(await requestReset('not-an-email'), 400, 'validation_failed');
    });
  });
});
