import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, tokensOf } from '../../helpers/flows.js';
import { confirmedVerification, phoneLogin, phoneUser, requestCode, smsCodeTo, uniquePhone } from '../../helpers/phone.js';
import { totpCodes, type AuditRow } from '../../helpers/probes.js';

describe('phone sign-up and sign-in by SMS code', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const confirm = (verification_id: string, code: string) => sdk.confirmPhoneVerification({ client: app.client, body: { verification_id, code } });
  const login = (verification_id: string, extra: Partial<sdk.PhoneLoginRequest> = {}) => sdk.loginWithPhone({ client: app.client, body: { verification_id, ...extra } });
  const register = (verification_id: string, extra: Partial<sdk.PhoneRegisterRequest> = {}) =>
    sdk.registerWithPhone({ client: app.client, body: { verification_id, first_name: 'Ama', last_name: 'Nguema', accept_terms: true, ...extra } });
  /** A 6-digit code that is not `code`. */
  const other = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
  const auditOf = (userId: string, event: string): Promise<AuditRow[]> => app.db('audit_logs').where({ user_id: userId, event }).orderBy('created_at');

  describe('registration', () => {
    it('request → the code by SMS → confirm → register: a phone-only account, active and signed in, with amr ["sms"]', async () => {
      const phone = uniquePhone();
      const started = await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: phone, purpose: 'registration', language: 'es' } });
      expect(started.response?.status).to.equal(202);
      expect(started.data).to.deep.equal({ verification_id: started.data!.verification_id, expires_in: 900 });
      const outbox = (await sdk.listDevOutbox({ client: app.client, query: { to: phone } })).data!.items;
      expect(outbox).to.have.length(1);
      expect(outbox[0]).to.include({ channel: 'sms', to: phone, template: 'phone_code', subject: null, status: 'pending' });
      expect(outbox[0]!.code).to.match(/^[0-9]{6}$/);
      expect(outbox[0]!.body).to.equal(`Su código de verificación es ${outbox[0]!.code}. Caduca en 15 minutos. No lo comparta con nadie.`);
      const stored = await app.db('phone_verifications').where({ id: started.data!.verification_id }).first();
      expect(stored).to.include({ phone, country: 'CN', purpose: 'registration', attempts: 0 });
      expect(stored.code_digest).to.match(/^[0-9a-f]{64}$/).and.not.include(outbox[0]!.code);

      const confirmed = await confirm(started.data!.verification_id, outbox[0]!.code!);
      expect(confirmed.data).to.deep.equal({ verified: true, purpose: 'registration' });
      const { data, response } = await register(started.data!.verification_id, { language: 'fr', device: { name: 'Pixel 8', type: 'android' } });
      expect(response?.status).to.equal(201);
      const session = tokensOf(data);
      expect(session.user).to.include({ email: null, phone, phone_verified: true, email_verified: false, status: 'active', first_name: 'Ama', language: 'fr', is_guest: false });
      expect(session.user.actor_types).to.deep.equal(['citizen']);
      const claims = decodeJwt(session.access_token);
      expect(claims).to.include({ sub: session.user.id, actor_type: 'citizen', status: 'active' });
      expect(claims.amr).to.deep.equal(['sms']);
      expect(claims.device_id).to.be.a('string');
      const row = await app.db('users').where({ id: session.user.id }).first();
      expect(row).to.include({ email: null, password_hash: null, phone });
      expect(row.phone_verified_at).to.be.instanceOf(Date);
      const profile = await sdk.getProfile({ client: app.client, auth: session.access_token });
      expect(profile.data).to.include({ phone, phone_verified: true, email: null });
      const sessions = (await sdk.listSessions({ client: app.client, auth: session.access_token })).data!.items;
      expect(sessions[0]).to.include({ auth_method: 'sms', device_id: claims.device_id, device_name: 'Pixel 8', device_type: 'android' });
    });

    it('parses national and spaced numbers into one E.164 number (and the per-number limit counts them as one)', async () => {
      const phone = uniquePhone(); // +8613xxxxxxxxx, nationally 13x xxxx xxxx
      const national = `${phone.slice(3, 6)} ${phone.slice(6, 10)} ${phone.slice(10)}`;
      const spaced = `+86 ${national}`;
      const first = await requestCode(app, national, 'registration', { country: 'CN' });
      const second = await requestCode(app, spaced, 'registration');
      expect(second, 'one number: the same live verification').to.equal(first);
      expect((await app.db('phone_verifications').where({ id: first }).first()).phone).to.equal(phone);
    });

    it('refuses an invalid number (400 phone_number_invalid) and a national number without its country', async () => {
      for (const body of [{ phone_number: '+861' }, { phone_number: '0612345678' }, { phone_number: '+33 1' }]) {
        const problem = expectProblem(await sdk.requestPhoneVerification({ client: app.client, body: { ...body, purpose: 'registration' } }), 400, 'phone_number_invalid');
        expect(problem.errors!.map((e) => e.path)).to.deep.equal(['/body/phone_number']);
      }
      expectProblem(await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: 'call me', purpose: 'login' } }), 400, 'validation_failed');
    });

    it('a number that has an account: the code still proves it, then 409 phone_already_registered', async () => {
      const { phone } = await phoneUser(app);
      const id = await confirmedVerification(app, phone, 'registration');
      expectProblem(await register(id), 409, 'phone_already_registered');
    });

    it('needs accepted terms and a self-signup type that allows sms, before the verification is used', async () => {
      const id = await confirmedVerification(app, uniquePhone(), 'registration');
      expectProblem(await register(id, { accept_terms: false }), 400, 'terms_not_accepted');
      expectProblem(await register(id, { user_type: 'admin' }), 400, 'actor_type_not_allowed');
      expectProblem(await register(id, { user_type: 'guest' }), 400, 'actor_type_not_allowed');
      expect((await register(id)).response?.status, 'the verification is still good').to.equal(201);
    });
  });

  describe('login', () => {
    it('signs a phone account in by SMS: the session records method sms, and a new device is told by SMS', async () => {
      const { phone, user } = await phoneUser(app);
      const tokens = await phoneLogin(app, phone, { device: { name: 'Work tablet', type: 'other' } }, { 'user-agent': 'Tablet/1' });
      expect(tokens.user.id).to.equal(user.id);
      expect(decodeJwt(tokens.access_token).amr).to.deep.equal(['sms']);
      const sms = (await sdk.listDevOutbox({ client: app.client, query: { to: phone } })).data!.items.filter((m) => m.template === 'new_device_sign_in_sms');
      expect(sms).to.have.length(1);
      expect(sms[0]).to.include({ channel: 'sms', subject: null });
      expect(sms[0]!.body).to.include('Work tablet (Tablet/1)').and.include('http://app.sesame.test/sessions');
      const succeeded = await auditOf(user.id, 'login.succeeded');
      expect(succeeded[1]!.identifier).to.match(/^\+86 \*\*\* \*\* \d\d$/).and.equal(`+86 *** ** ${phone.slice(-2)}`);
    });

    it('answers an unknown number exactly like a known one, and sends it nothing', async () => {
      const { phone: known } = await phoneUser(app);
      const unknown = uniquePhone();
      const a = await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: known, purpose: 'login' } });
      const b = await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: unknown, purpose: 'login' } });
      expect([a.response?.status, b.response?.status]).to.deep.equal([202, 202]);
      expect(Object.keys(b.data!).sort()).to.deep.equal(Object.keys(a.data!).sort());
      expect(b.data!.expires_in).to.equal(a.data!.expires_in);
      expect(await smsCodeTo(app, unknown)).to.equal(undefined);
      expect(await smsCodeTo(app, known)).to.match(/^[0-9]{6}$/);
      // Nobody knows its code: every guess is just wrong.
      expectProblem(await confirm(b.data!.verification_id, '000000'), 400, 'phone_code_invalid');
    });

    it('with 2FA on, the SMS login asks for the second factor; /2fa/verify finishes it with amr ["sms", "otp"]', async () => {
      const { codeAt, nextStep } = totpCodes(() => app);
      const { phone, session } = await phoneUser(app);
      const setup = await sdk.enableTwoFactor({ client: app.client, auth: session.access_token });
      const url = new URL(setup.data!.otpauth_url);
      expect(decodeURIComponent(url.pathname), 'the otpauth label of a phone-only account').to.equal(`/Sésame:${phone}`);
      expect((await sdk.confirmTwoFactor({ client: app.client, auth: session.access_token, body: { code: await codeAt(setup.data!.secret) } })).error).to.equal(undefined);
      const notices = (await sdk.listDevOutbox({ client: app.client, query: { to: phone } })).data!.items.map((m) => m.template);
      expect(notices, 'security notices by SMS without an email').to.include('mfa_enabled_sms');
      nextStep();

      const { data } = await login(await confirmedVerification(app, phone, 'login'));
      expect(data).to.include({ mfa_required: true, mfa_setup_required: false });
      const verified = await sdk.verifyTwoFactor({ client: app.client, body: { mfa_token: (data as sdk.MfaChallenge).mfa_token, code: await codeAt(setup.data!.secret) } });
      expect(verified.error, JSON.stringify(verified.error)).to.equal(undefined);
      expect(decodeJwt(verified.data!.access_token).amr).to.deep.equal(['sms', 'otp']);
    });

    it('refuses a named actor type that does not allow sms before the verification is used (403 auth_method_not_allowed)', async () => {
      const { phone } = await phoneUser(app);
      const id = await confirmedVerification(app, phone, 'login');
      expectProblem(await login(id, { actor_type: 'agent' }), 403, 'auth_method_not_allowed');
      expect((await login(id)).response?.status).to.equal(200);
    });

    it('a suspended account cannot sign in by SMS', async () => {
      const { phone, user } = await phoneUser(app);
      await app.db('users').where({ id: user.id }).update({ status: 'suspended' });
      expectProblem(await login(await confirmedVerification(app, phone, 'login')), 403, 'account_suspended');
    });
  });

  describe('steps cannot be skipped or reused', () => {
    it('an unconfirmed verification finishes nothing; a confirmed one finishes one flow once, and only its own', async () => {
      const { phone } = await phoneUser(app);
      const unconfirmed = await requestCode(app, phone, 'login');
      expectProblem(await login(unconfirmed), 400, 'phone_verification_invalid');

      const registration = await confirmedVerification(app, uniquePhone(), 'registration');
      expectProblem(await login(registration), 400, 'phone_verification_invalid');
      const loginVerification = await confirmedVerification(app, phone, 'login');
      expectProblem(await register(loginVerification), 400, 'phone_verification_invalid');

      expect((await login(loginVerification)).response?.status).to.equal(200);
      expectProblem(await login(loginVerification), 400, 'phone_verification_invalid');
      expectProblem(await login('5f0c1d7e-3a7b-4c2d-9f7e-0a1b2c3d4e5f'), 400, 'phone_verification_invalid');
    });

    it('a code confirms once', async () => {
      const phone = uniquePhone();
      const id = await requestCode(app, phone, 'registration');
      const code = (await smsCodeTo(app, phone))!;
      expect((await confirm(id, code)).response?.status).to.equal(200);
      expectProblem(await confirm(id, code), 400, 'phone_verification_invalid');
    });

    it('an expired code is refused, and a confirmed verification dies with it', async () => {
      const phone = uniquePhone();
      const id = await requestCode(app, phone, 'registration');
      const code = (await smsCodeTo(app, phone))!;
      app.clock.advance(15 * 60 * 1000);
      expectProblem(await confirm(id, code), 400, 'phone_verification_expired');

      const confirmed = await confirmedVerification(app, uniquePhone(), 'registration');
      app.clock.advance(15 * 60 * 1000);
      expectProblem(await register(confirmed), 400, 'phone_verification_expired');
    });
  });

  describe('wrong codes and resends', () => {
    it('the fifth wrong code kills the verification: the right code is then refused, and no new code is sent until it expires', async () => {
      const { phone } = await phoneUser(app);
      const id = await requestCode(app, phone, 'login');
      const code = (await smsCodeTo(app, phone))!;
      for (let i = 1; i <= 4; i++) expectProblem(await confirm(id, other(code)), 400, 'phone_code_invalid');
      const fifth = await confirm(id, other(code));
      expectProblem(fifth, 429, 'phone_code_attempts_exceeded');
      expect(Number(fifth.response!.headers.get('retry-after'))).to.be.within(1, 900);
      expectProblem(await confirm(id, code), 429, 'phone_code_attempts_exceeded');
      expectProblem(await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: phone, purpose: 'login' } }), 429, 'phone_code_attempts_exceeded');

      app.clock.advance(15 * 60 * 1000);
      const fresh = await requestCode(app, phone, 'login');
      expect(fresh).to.not.equal(id);
    });

    it('a resend sends a new code under the same id and keeps the wrong-code count', async () => {
      const phone = uniquePhone();
      const id = await requestCode(app, phone, 'registration');
      const first = (await smsCodeTo(app, phone))!;
      for (let i = 0; i < 3; i++) expectProblem(await confirm(id, other(first)), 400, 'phone_code_invalid');
      expect(await requestCode(app, phone, 'registration')).to.equal(id);
      const second = (await smsCodeTo(app, phone))!;
      expect((await app.db('phone_verifications').where({ id }).first()).attempts).to.equal(3);
      if (second !== first) expectProblem(await confirm(id, first), 400, 'phone_code_invalid');
      const last = await confirm(id, other(second));
      expectProblem(last, 429, 'phone_code_attempts_exceeded');
      expectProblem(await confirm(id, second), 429, 'phone_code_attempts_exceeded');
    });

    it('wrong and right codes are in the account’s security events, with the number masked', async () => {
      const { phone, user, session } = await phoneUser(app);
      const id = await requestCode(app, phone, 'login');
      const code = (await smsCodeTo(app, phone))!;
      await confirm(id, other(code));
      await confirm(id, code);
      const events = (await sdk.listSecurityEvents({ client: app.client, auth: session.access_token })).data!.items;
      const byEvent = (name: string) => events.filter((e) => e.event === name);
      // The registration's own codes came before the account existed: they belong to no account.
      expect(byEvent('phone.code_requested').map((e) => e.details)).to.deep.equal([{ purpose: 'login', verification_id: id, resent: false, sent: true }]);
      expect(byEvent('phone.code_failed').map((e) => e.details)).to.deep.equal([{ purpose: 'login', verification_id: id, attempts: 1 }]);
      expect(byEvent('phone.code_verified').map((e) => e.details)).to.deep.equal([{ purpose: 'login', verification_id: id }]);
      for (const e of events) if (e.identifier) expect(e.identifier).to.equal(`+86 *** ** ${phone.slice(-2)}`);
      expect(JSON.stringify(events)).to.not.include(code).and.not.include(phone);
      expect((await auditOf(user.id, 'user.registered'))[0]!.details).to.deep.equal({ user_type: 'citizen', method: 'sms' });
    });
  });

  describe('SMS pumping defences', () => {
    it('a sixth request for one number in an hour is 429 rate_limited, whatever its spelling', async () => {
      const phone = uniquePhone();
      const spellings = [phone, `+86 ${phone.slice(3)}`, phone.slice(3), `+86 (${phone.slice(3, 6)}) ${phone.slice(6)}`, phone];
      for (const [i, spelling] of spellings.entries()) {
        const body = spelling.startsWith('+') ? { phone_number: spelling } : { phone_number: spelling, country: 'CN' };
        const { response } = await sdk.requestPhoneVerification({ client: app.client, body: { ...body, purpose: i % 2 ? 'login' : 'registration' } });
        expect(response?.status, `request ${i + 1}`).to.equal(202);
      }
      const sixth = await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: phone, purpose: 'registration' } });
      expectProblem(sixth, 429, 'rate_limited');
      expect(sixth.response!.headers.get('retry-after')).to.match(/^\d+$/);
      expect(sixth.response!.headers.get('ratelimit-limit')).to.equal('5');
    });

    it('counts codes sent and verified per country in /metrics', async () => {
      const { phone } = await phoneUser(app);
      await requestCode(app, phone, 'login');
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      const value = (line: string) => Number(metrics.split('\n').find((l) => l.startsWith(line))?.split(' ').pop());
      expect(value('auth_sms_codes_sent_total{country="CN",purpose="registration"}')).to.be.at.least(1);
      expect(value('auth_sms_codes_sent_total{country="CN",purpose="login"}')).to.be.at.least(1);
      expect(value('auth_sms_codes_verified_total{country="CN",purpose="registration"}')).to.be.at.least(1);
    });
  });

  describe('the verified phone of an account', () => {
    it('an email account adds a verified phone with a recovery code, then signs in with it; the profile cannot change it', async () => {
      const { session, user } = await loggedInUser(app);
      const phone = uniquePhone();
      const id = await confirmedVerification(app, phone, 'recovery');
      const { data, error } = await sdk.setPhone({ client: app.client, auth: session.access_token, body: { verification_id: id } });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(data).to.include({ id: user.id, phone, phone_verified: true });
      expect((await auditOf(user.id, 'phone.verified'))[0]!.details).to.deep.equal({ verification_id: id, changed: false });

      expect((await phoneLogin(app, phone)).user.id).to.equal(user.id);
      const patched = await sdk.updateProfile({ client: app.client, auth: session.access_token, body: { phone: uniquePhone() } });
      expect(expectProblem(patched, 400, 'field_not_editable').errors!.map((e) => e.path)).to.deep.equal(['/body/phone']);
      expect((await sdk.updateProfile({ client: app.client, auth: session.access_token, body: { phone } })).response?.status, 'the same value is no change').to.equal(200);
    });

    it('a number verified on another account is 409; a recovery verification serves only PUT /auth/phone', async () => {
      const owner = await phoneUser(app);
      const { session } = await loggedInUser(app);
      const taken = await confirmedVerification(app, owner.phone, 'recovery');
      expectProblem(await sdk.setPhone({ client: app.client, auth: session.access_token, body: { verification_id: taken } }), 409, 'phone_already_registered');
      const recovery = await confirmedVerification(app, uniquePhone(), 'recovery');
      expectProblem(await login(recovery), 400, 'phone_verification_invalid');
      expectProblem(await register(recovery), 400, 'phone_verification_invalid');
      const registration = await confirmedVerification(app, uniquePhone(), 'registration');
      expectProblem(await sdk.setPhone({ client: app.client, auth: session.access_token, body: { verification_id: registration } }), 400, 'phone_verification_invalid');
    });
  });
});

describe('phone sign-in settings', () => {
  describe('SMS_ALLOWED_COUNTRIES', () => {
    let app: TestApp;
    useTestApp((started) => (app = started), { env: { SMS_ALLOWED_COUNTRIES: 'GQ,FR' } });

    it('refuses numbers of other countries before anything is counted or sent (400 phone_country_not_allowed)', async () => {
      const phone = uniquePhone();
      const problem = expectProblem(await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: phone, purpose: 'registration' } }), 400, 'phone_country_not_allowed');
      expect(problem.errors!.map((e) => e.path)).to.deep.equal(['/body/phone_number']);
      expect(await app.db('phone_verifications').where({ phone })).to.have.length(0);
      expect((await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: '+240 222 19 70 12', purpose: 'login' } })).response?.status).to.equal(202);
    });
  });

  describe('per-country budget', () => {
    let app: TestApp;
    // Sierra Leone is this suite's own: no other suite sends codes there.
    useTestApp((started) => (app = started), { env: { SMS_COUNTRY_BUDGETS: 'SL:3/1h,CN:off' } });
    before(async () => {
      await app.db('sms_country_budgets').where({ country: 'SL' }).delete();
    });

    it('refuses codes to a country over its budget (429 sms_budget_exceeded with Retry-After) until its window ends', async () => {
      const base6 = randomInt(0, 999_990);
      const number = (i: number) => `+232 76 ${String(base6 + i).padStart(6, '0')}`;
      const base = Math.floor(app.clock.now().getTime() / 3_600_000) * 3_600_000;
      app.clock.set(new Date(base + 1000));
      for (let i = 0; i < 3; i++) await requestCode(app, number(i), i ? 'registration' : 'login');
      const over = await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: number(3), purpose: 'registration' } });
      expectProblem(over, 429, 'sms_budget_exceeded');
      expect(Number(over.response!.headers.get('retry-after'))).to.equal(3599);
      expect(await app.db('phone_verifications').where({ phone: number(3).replace(/ /g, '') }), 'nothing kept of a refused request').to.have.length(0);
      expect(await app.db('outbox_messages').where({ recipient: number(3).replace(/ /g, '') }), 'and nothing sent').to.have.length(0);
      expect((await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: uniquePhone(), purpose: 'registration' } })).response?.status, 'another country').to.equal(202);
      app.clock.advance(3600 * 1000);
      expect((await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: number(3), purpose: 'registration' } })).response?.status).to.equal(202);
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      expect(metrics).to.include('auth_sms_budget_refusals_total{country="SL"} 1');
    });
  });
});
