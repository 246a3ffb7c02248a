import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { totpCodes } from '../../helpers/probes.js';
import { expectProblem, latestMessage, loggedInUser, registerUser, strongPassword, tokensOf } from '../../helpers/flows.js';

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('two-factor authentication (TOTP)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const { codeAt, wrongCode, nextStep } = totpCodes(() => app);

  const enable = (auth: string) => sdk.enableTwoFactor({ client: app.client, auth });
  const confirm = (auth: string, code: string) => sdk.confirmTwoFactor({ client: app.client, auth, body: { code } });
  const verify = (body: sdk.TwoFactorVerifyRequest) => sdk.verifyTwoFactor({ client: app.client, body });
  const disable = (auth: string, password: string, code: string) => sdk.disableTwoFactor({ client: app.client, auth, body: { password, code } });
  const regenerate = (auth: string, password: string) => sdk.regenerateBackupCodes({ client: app.client, auth, body: { password } });

  /** An active user with 2FA on: its secret, backup codes and a password session. The clock is on a fresh step. */
  async function enrolledUser() {
    const account = await loggedInUser(app);
    const accessToken = account.session.access_token;
    const setup = await enable(accessToken);
    expect(setup.error, JSON.stringify(setup.error)).to.equal(undefined);
    const secret = setup.data!.secret;
    const confirmed = await confirm(accessToken, await codeAt(secret));
    expect(confirmed.error, JSON.stringify(confirmed.error)).to.equal(undefined);
    nextStep();
    return { ...account, accessToken, secret, backupCodes: confirmed.data!.backup_codes as string[] };
  }

  /** Logs in with the password and expects an MFA challenge. */
  async function challenge(email: string, extra: Partial<sdk.LoginRequest> = {}): Promise<sdk.MfaChallenge> {
    const { data, error, response } = await sdk.login({ client: app.client, body: { email, password: strongPassword, ...extra } });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    expect(response?.status).to.equal(200);
    expect(data).to.have.property('mfa_required', true);
    return data as sdk.MfaChallenge;
  }

  /** A user holding the `admin` actor type (require_2fa) whose login asks for enrolment. */
  async function adminNeedingSetup() {
    const registered = await registerUser(app);
    await sdk.verifyEmail({ client: app.client, body: { token: registered.verificationToken } });
    await app.db('user_actor_types').insert({ user_id: registered.user.id, actor_type: 'admin' });
    return { ...registered, paused: await challenge(registered.body.email) };
  }

  describe('enrolment', () => {
    it('enable returns a base32 secret, an otpauth URL naming the issuer, and a PNG QR code; the secret rests encrypted', async () => {
      const { session, body, user } = await loggedInUser(app);
      const { data, response } = await enable(session.access_token);
      expect(response?.status).to.equal(200);
      expect(data!.secret).to.match(/^[A-Z2-7]{32}$/);
      const url = new URL(data!.otpauth_url);
      expect(url.protocol).to.equal('otpauth:');
      expect(url.host).to.equal('totp');
      expect(decodeURIComponent(url.pathname)).to.equal(`/Sésame:${body.email}`);
      expect(url.searchParams.get('secret')).to.equal(data!.secret);
      expect(url.searchParams.get('issuer')).to.equal('Sésame');
      expect(data!.qr_code.startsWith('data:image/png;base64,')).to.equal(true);
      const png = Buffer.from(data!.qr_code.slice('data:image/png;base64,'.length), 'base64');
      expect(png.subarray(0, 8).equals(pngSignature)).to.equal(true);
      const stored = await app.db('user_totp').where({ user_id: user.id }).first();
      expect(stored.confirmed_at).to.equal(null);
      expect(stored.secret_encrypted).to.match(/^v1\./);
      expect(stored.secret_encrypted).not.to.include(data!.secret);
      const profile = await sdk.getProfile({ client: app.client, auth: session.access_token });
      expect(profile.data!.mfa_enabled).to.equal(false);
    });

    it('confirm with a right code enables 2FA: 10 distinct backup codes, mfa_enabled in the profile, an mfa_enabled email', async () => {
      const { session, body, user } = await loggedInUser(app);
      const setup = await enable(session.access_token);
      const { data, response } = await confirm(session.access_token, await codeAt(setup.data!.secret));
      expect(response?.status).to.equal(200);
      expect(data!.backup_codes).to.have.length(10);
      expect(new Set(data!.backup_codes).size).to.equal(10);
      for (const code of data!.backup_codes) expect(code).to.match(/^[abcdefghjkmnpqrstuvwxyz23456789]{5}-[abcdefghjkmnpqrstuvwxyz23456789]{5}$/);
      expect(data).not.to.have.property('login');
      const stored = await app.db('mfa_backup_codes').where({ user_id: user.id });
      expect(stored).to.have.length(10);
      expect(stored.map((r: { code_hash: string }) => r.code_hash)).not.to.include.members(data!.backup_codes);
      const profile = await sdk.getProfile({ client: app.client, auth: session.access_token });
      expect(profile.data!.mfa_enabled).to.equal(true);
      const message = await latestMessage(app, body.email);
      expect(message.template).to.equal('mfa_enabled');
      expect(message.link).to.equal('http://app.sesame.test/reset-password');
    });

    it('refuses a wrong code with 401 invalid_mfa_code and leaves 2FA off', async () => {
      const { session } = await loggedInUser(app);
      const setup = await enable(session.access_token);
      expectProblem(await confirm(session.access_token, await wrongCode(setup.data!.secret)), 401, 'invalid_mfa_code');
      const profile = await sdk.getProfile({ client: app.client, auth: session.access_token });
      expect(profile.data!.mfa_enabled).to.equal(false);
    });

    it('refuses confirm before enable with 409 mfa_setup_not_started', async () => {
      const { session } = await loggedInUser(app);
      expectProblem(await confirm(session.access_token, '123456'), 409, 'mfa_setup_not_started');
    });

    it('refuses enable and confirm once 2FA is on with 409 mfa_already_enabled', async () => {
      const { accessToken, secret } = await enrolledUser();
      expectProblem(await enable(accessToken), 409, 'mfa_already_enabled');
      expectProblem(await confirm(accessToken, await codeAt(secret)), 409, 'mfa_already_enabled');
    });

    it('enable again replaces a pending secret: only the new one confirms', async () => {
      const { session } = await loggedInUser(app);
      const first = await enable(session.access_token);
      const second = await enable(session.access_token);
      expect(second.data!.secret).not.to.equal(first.data!.secret);
      expectProblem(await confirm(session.access_token, await codeAt(first.data!.secret)), 401, 'invalid_mfa_code');
      expect((await confirm(session.access_token, await codeAt(second.data!.secret))).response?.status).to.equal(200);
    });
  });

  describe('login with 2FA on', () => {
    it('answers an MfaChallenge and no tokens', async () => {
      const { body } = await enrolledUser();
      const paused = await challenge(body.email);
      expect(paused).to.deep.include({ mfa_required: true, mfa_setup_required: false, expires_in: 300 });
      expect(paused.mfa_methods).to.deep.equal(['totp', 'backup_code']);
      expect(paused.mfa_token).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(paused).not.to.have.property('access_token');
      expect(paused).not.to.have.property('refresh_token');
    });

    it('verify with a TOTP code gives the tokens (amr pwd, otp) of a session carrying the login context', async () => {
      const { body, user, secret } = await enrolledUser();
      const paused = await challenge(body.email, { remember_me: false, device: { name: 'Work laptop', type: 'desktop' } });
      const { data, response } = await verify({ mfa_token: paused.mfa_token, code: await codeAt(secret) });
      expect(response?.status).to.equal(200);
      const claims = decodeJwt(data!.access_token);
      expect(claims).to.include({ sub: user.id, actor_type: 'citizen' });
      expect(claims.amr).to.deep.equal(['pwd', 'otp']);
      expect(data!.user).to.include({ id: user.id, mfa_enabled: true });
      const stored = await app.db('sessions').where({ id: claims.sid }).first();
      expect(stored).to.include({ device_name: 'Work laptop', device_type: 'desktop', auth_method: 'password', ip: '127.0.0.1' });
      expect((stored.expires_at.getTime() - stored.created_at.getTime()) / 1000).to.equal(86_400);
      expect((await sdk.getProfile({ client: app.client, auth: data!.access_token })).response?.status).to.equal(200);
    });

    it('a challenged login stays counted for the lockout until verify completes it, which resets the count', async () => {
      const { body, secret } = await enrolledUser();
      const email = body.email.toLowerCase();
      for (let i = 0; i < 3; i++) {
        expectProblem(await sdk.login({ client: app.client, body: { email: body.email, password: 'Wrong-Pass-2026!' } }), 401, 'invalid_credentials');
      }
      const paused = await challenge(body.email);
      expect(await app.db('login_lockouts').where({ identifier: email }).first()).to.include({ failures: 4 });
      expect((await verify({ mfa_token: paused.mfa_token, code: await codeAt(secret) })).response?.status).to.equal(200);
      expect(await app.db('login_lockouts').where({ identifier: email }).first()).to.include({ failures: 0 });
    });

    it('never accepts the same TOTP code twice, even on a new challenge', async () => {
      const { body, secret } = await enrolledUser();
      const code = await codeAt(secret);
      const first = await verify({ mfa_token: (await challenge(body.email)).mfa_token, code });
      expect(first.response?.status).to.equal(200);
      expectProblem(await verify({ mfa_token: (await challenge(body.email)).mfa_token, code }), 401, 'invalid_mfa_code');
      nextStep();
      const later = await verify({ mfa_token: (await challenge(body.email)).mfa_token, code: await codeAt(secret) });
      expect(later.response?.status).to.equal(200);
    });

    it('accepts a backup code once (case and dash ignored), then refuses it', async () => {
      const { body, backupCodes, user } = await enrolledUser();
      const code = backupCodes[0]!;
      const first = await verify({ mfa_token: (await challenge(body.email)).mfa_token, backup_code: code.toUpperCase().replace('-', '') });
      expect(first.response?.status).to.equal(200);
      expect(decodeJwt(first.data!.access_token).amr).to.deep.equal(['pwd', 'otp']);
      expectProblem(await verify({ mfa_token: (await challenge(body.email)).mfa_token, backup_code: code }), 401, 'invalid_mfa_code');
      const used = await app.db('mfa_backup_codes').where({ user_id: user.id }).whereNotNull('used_at');
      expect(used).to.have.length(1);
    });

    it('offers only totp once every backup code is used', async () => {
      const { body, user } = await enrolledUser();
      await app.db('mfa_backup_codes').where({ user_id: user.id }).update({ used_at: app.clock.now() });
      expect((await challenge(body.email)).mfa_methods).to.deep.equal(['totp']);
    });

    it('the mfa_token is single use', async () => {
      const { body, secret } = await enrolledUser();
      const paused = await challenge(body.email);
      expect((await verify({ mfa_token: paused.mfa_token, code: await codeAt(secret) })).response?.status).to.equal(200);
      nextStep();
      expectProblem(await verify({ mfa_token: paused.mfa_token, code: await codeAt(secret) }), 401, 'mfa_token_invalid');
    });

    it('the mfa_token expires after 300 seconds', async () => {
      const { body, secret } = await enrolledUser();
      const paused = await challenge(body.email);
      app.clock.advance(300_000);
      expectProblem(await verify({ mfa_token: paused.mfa_token, code: await codeAt(secret) }), 401, 'mfa_token_invalid');
    });

    it('refuses an unknown mfa_token with 401 mfa_token_invalid', async () => {
      expectProblem(await verify({ mfa_token: 'not-a-real-token', code: '123456' }), 401, 'mfa_token_invalid');
    });

    it('kills the challenge at the 5th wrong code: mfa_attempts_exceeded, even for the right code after', async () => {
      const { body, secret, user } = await enrolledUser();
      const paused = await challenge(body.email);
      const wrong = await wrongCode(secret);
      for (let i = 1; i <= 4; i++) expectProblem(await verify({ mfa_token: paused.mfa_token, code: wrong }), 401, 'invalid_mfa_code');
      expectProblem(await verify({ mfa_token: paused.mfa_token, code: wrong }), 401, 'mfa_attempts_exceeded');
      const row = await app.db('mfa_challenges').where({ user_id: user.id }).first();
      expect(row).to.include({ attempts: 5 });
      expect(row.consumed_at).to.be.instanceOf(Date);
      expectProblem(await verify({ mfa_token: paused.mfa_token, code: await codeAt(secret) }), 401, 'mfa_attempts_exceeded');
      // The right code was not spent on the dead challenge: a new login takes it.
      expect((await verify({ mfa_token: (await challenge(body.email)).mfa_token, code: await codeAt(secret) })).response?.status).to.equal(200);
    });

    it('wants exactly one of code and backup_code (400 validation_failed)', async () => {
      const { body, secret, backupCodes } = await enrolledUser();
      const paused = await challenge(body.email);
      const neither = expectProblem(await verify({ mfa_token: paused.mfa_token }), 400, 'validation_failed');
      expect(neither.errors?.map((e) => e.path)).to.deep.equal(['/body']);
      const both = expectProblem(await verify({ mfa_token: paused.mfa_token, code: await codeAt(secret), backup_code: backupCodes[0]! }), 400, 'validation_failed');
      expect(both.errors?.map((e) => e.path)).to.deep.equal(['/body']);
      expect((await verify({ mfa_token: paused.mfa_token, code: await codeAt(secret) })).response?.status).to.equal(200);
    });

    it('two parallel verifies with the right code: exactly one succeeds', async () => {
      const { body, secret } = await enrolledUser();
      const paused = await challenge(body.email);
      const code = await codeAt(secret);
      const results = await Promise.all([verify({ mfa_token: paused.mfa_token, code }), verify({ mfa_token: paused.mfa_token, code })]);
      expect(results.map((r) => r.response?.status).sort()).to.deep.equal([200, 401]);
    });

    it('two parallel verifies of one challenge with two right factors (code, backup code): exactly one succeeds', async () => {
      const { body, secret, backupCodes } = await enrolledUser();
      const paused = await challenge(body.email);
      const results = await Promise.all([verify({ mfa_token: paused.mfa_token, code: await codeAt(secret) }), verify({ mfa_token: paused.mfa_token, backup_code: backupCodes[0]! })]);
      expect(results.map((r) => r.response?.status).sort()).to.deep.equal([200, 401]);
      expectProblem(results.find((r) => r.response?.status === 401)!, 401, 'mfa_token_invalid');
    });

    it('two parallel verifies of one code on two challenges: exactly one succeeds', async () => {
      const { body, secret } = await enrolledUser();
      const [a, b] = [await challenge(body.email), await challenge(body.email)];
      const code = await codeAt(secret);
      const results = await Promise.all([verify({ mfa_token: a.mfa_token, code }), verify({ mfa_token: b.mfa_token, code })]);
      expect(results.map((r) => r.response?.status).sort()).to.deep.equal([200, 401]);
    });

    it('refuses a login mfa_token as a bearer token (401)', async () => {
      const { body } = await enrolledUser();
      const paused = await challenge(body.email);
      expectProblem(await sdk.getProfile({ client: app.client, auth: paused.mfa_token }), 401, 'invalid_token');
      expectProblem(await enable(paused.mfa_token), 401, 'invalid_token');
    });

    it('refuses a suspended user at verify with 403 account_suspended', async () => {
      const { body, user, secret } = await enrolledUser();
      const paused = await challenge(body.email);
      await app.db('users').where({ id: user.id }).update({ status: 'suspended' });
      expectProblem(await verify({ mfa_token: paused.mfa_token, code: await codeAt(secret) }), 403, 'account_suspended');
    });
  });

  describe('disable', () => {
    it('refuses a wrong password (401 invalid_current_password) and a wrong code (401 invalid_mfa_code)', async () => {
      const { accessToken, secret, body } = await enrolledUser();
      expectProblem(await disable(accessToken, 'Wrong-Pass-2026!', await codeAt(secret)), 401, 'invalid_current_password');
      expectProblem(await disable(accessToken, body.password, await wrongCode(secret)), 401, 'invalid_mfa_code');
      expectProblem(await disable(accessToken, body.password, 'abcde-fghjk'), 401, 'invalid_mfa_code');
      expect((await sdk.getProfile({ client: app.client, auth: accessToken })).data!.mfa_enabled).to.equal(true);
    });

    it('turns 2FA off (204), emails mfa_disabled, and the next login gets tokens directly', async () => {
      const { accessToken, secret, body, user } = await enrolledUser();
      const { response } = await disable(accessToken, body.password, await codeAt(secret));
      expect(response?.status).to.equal(204);
      expect((await latestMessage(app, body.email)).template).to.equal('mfa_disabled');
      expect((await sdk.getProfile({ client: app.client, auth: accessToken })).data!.mfa_enabled).to.equal(false);
      expect(await app.db('user_totp').where({ user_id: user.id })).to.have.length(0);
      expect(await app.db('mfa_backup_codes').where({ user_id: user.id })).to.have.length(0);
      const login = await sdk.login({ client: app.client, body: { email: body.email, password: body.password } });
      expect(decodeJwt(tokensOf(login.data).access_token).amr).to.deep.equal(['pwd']);
    });

    it('accepts an unused backup code as the code', async () => {
      const { accessToken, backupCodes, body } = await enrolledUser();
      expect((await disable(accessToken, body.password, backupCodes[3]!)).response?.status).to.equal(204);
    });

    it('answers 409 mfa_not_enabled when 2FA is off', async () => {
      const { session, body } = await loggedInUser(app);
      expectProblem(await disable(session.access_token, body.password, '123456'), 409, 'mfa_not_enabled');
    });
  });

  describe('backup codes', () => {
    it('regenerate: the old codes stop working, the new ones work', async () => {
      const { accessToken, backupCodes, body } = await enrolledUser();
      const { data, response } = await regenerate(accessToken, body.password);
      expect(response?.status).to.equal(200);
      expect(data!.backup_codes).to.have.length(10);
      expect(data!.backup_codes).not.to.include.members(backupCodes.slice(0, 1));
      expectProblem(await verify({ mfa_token: (await challenge(body.email)).mfa_token, backup_code: backupCodes[0]! }), 401, 'invalid_mfa_code');
      expect((await verify({ mfa_token: (await challenge(body.email)).mfa_token, backup_code: data!.backup_codes[0] })).response?.status).to.equal(200);
    });

    it('regenerate wants the password (401) and 2FA on (409)', async () => {
      const { accessToken } = await enrolledUser();
      expectProblem(await regenerate(accessToken, 'Wrong-Pass-2026!'), 401, 'invalid_current_password');
      const { session, body } = await loggedInUser(app);
      expectProblem(await regenerate(session.access_token, body.password), 409, 'mfa_not_enabled');
    });
  });

  describe('an actor type that requires 2FA', () => {
    it('login answers mfa_setup_required with a restricted token that can only enrol', async () => {
      const { paused } = await adminNeedingSetup();
      expect(paused).to.deep.include({ mfa_required: true, mfa_setup_required: true, expires_in: 600 });
      expect(paused.mfa_methods).to.deep.equal(['totp']);
      expect(paused).not.to.have.property('access_token');
      expectProblem(await sdk.getProfile({ client: app.client, auth: paused.mfa_token }), 403, 'mfa_setup_required');
      expectProblem(await sdk.logout({ client: app.client, auth: paused.mfa_token, body: {} }), 403, 'mfa_setup_required');
      expectProblem(await regenerate(paused.mfa_token, strongPassword), 403, 'mfa_setup_required');
      expectProblem(await verify({ mfa_token: paused.mfa_token, code: '123456' }), 401, 'mfa_token_invalid');
    });

    it('the strictest actor type governs: signing in as another type the user holds still needs 2FA', async () => {
      const { body } = await adminNeedingSetup();
      const { data, error } = await sdk.login({ client: app.client, body: { email: body.email, password: body.password, actor_type: 'citizen' } });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(data).to.deep.include({ mfa_required: true, mfa_setup_required: true });
      expect(data).not.to.have.property('access_token');
    });

    it('enrolling with the restricted token completes the login (amr pwd, otp); the token then dies', async () => {
      const { paused, user } = await adminNeedingSetup();
      const setup = await enable(paused.mfa_token);
      expect(setup.response?.status).to.equal(200);
      expectProblem(await confirm(paused.mfa_token, await wrongCode(setup.data!.secret)), 401, 'invalid_mfa_code');
      expect((await app.db('mfa_challenges').where({ user_id: user.id }).first()).attempts).to.equal(1);
      const { data, response } = await confirm(paused.mfa_token, await codeAt(setup.data!.secret));
      expect(response?.status).to.equal(200);
      expect(data!.backup_codes).to.have.length(10);
      const login = data!.login!;
      const claims = decodeJwt(login.access_token);
      expect(claims).to.include({ sub: user.id, actor_type: 'admin' });
      expect(claims.amr).to.deep.equal(['pwd', 'otp']);
      expect(login.user.mfa_enabled).to.equal(true);
      expect((await sdk.getProfile({ client: app.client, auth: login.access_token })).response?.status).to.equal(200);
      expectProblem(await enable(paused.mfa_token), 401, 'invalid_token');
    });

    it('refuses to turn 2FA off with 403 mfa_required_by_policy', async () => {
      const { paused, body } = await adminNeedingSetup();
      const setup = await enable(paused.mfa_token);
      const { data } = await confirm(paused.mfa_token, await codeAt(setup.data!.secret));
      nextStep();
      expectProblem(await disable(data!.login!.access_token, body.password, await codeAt(setup.data!.secret)), 403, 'mfa_required_by_policy');
      // The next login asks for the code like any user with 2FA on.
      expect((await challenge(body.email)).mfa_setup_required).to.equal(false);
    });

    it('the restricted token expires after 600 seconds', async () => {
      const { paused } = await adminNeedingSetup();
      app.clock.advance(600_000);
      expectProblem(await enable(paused.mfa_token), 401, 'invalid_token');
    });
  });
});
