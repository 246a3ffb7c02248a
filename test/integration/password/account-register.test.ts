import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { startTestApp, type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, latestMessage, registerBody, registerUser, strongPassword, uniqueEmail } from '../../helpers/flows.js';

describe('register and verify email', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  it('creates a pending user and writes the verification email to the outbox', async () => {
    const body = registerBody({ email: uniqueEmail('Mixed.Case').replace('mixed', 'MIXED'), user_type: 'business', phone: '+240222123456' });
    const { data, response } = await sdk.register({ client: app.client, body });
    expect(response?.status).to.equal(201);
    expect(data!.verification_email_sent).to.equal(true);
    expect(data!.user).to.include({ email: body.email.toLowerCase(), status: 'pending_verification', email_verified: false, first_name: 'Jean', language: 'fr', phone: '+240222123456' });
    expect(data!.user.actor_types).to.deep.equal(['business']);
    const message = await latestMessage(app, body.email);
    expect(message).to.include({ channel: 'email', template: 'email_verification', status: 'pending' });
    expect(message.subject).to.equal('Confirmez votre adresse e-mail');
    expect(message.link).to.equal(`http://app.sesame.test/verify-email?token=${message.token}`);
    expect(message.body).to.contain(message.link!);
    const stored = await app.db('users').where({ id: data!.user.id }).first();
    expect(stored.password_hash).to.match(/^\$argon2id\$/);
    expect(stored.password_hash).not.to.contain(strongPassword);
  });

  it('defaults the actor type and the language', async () => {
    const { user } = await registerUser(app, { user_type: undefined, language: undefined });
    expect(user.actor_types).to.deep.equal(['citizen']);
    expect(user.language).to.equal('en');
  });

  const ruleCases: Array<[string, Partial<sdk.RegisterRequest>, string]> = [
    ['terms are not accepted', { accept_terms: false }, 'terms_not_accepted'],
    ['the confirmation differs', { password_confirm: 'Other-Pass-2026!' }, 'password_mismatch'],
    ['the password has no symbol', { password: 'Abcdefgh1', password_confirm: 'Abcdefgh1' }, 'password_too_weak'],
    ['the password is too short', { password: 'Ab1!', password_confirm: 'Ab1!' }, 'password_too_weak'],
    ['the password is a common one with digits appended', { password: 'Password123!', password_confirm: 'Password123!' }, 'password_too_weak'],
    ['the actor type is not self-signup', { user_type: 'admin' }, 'actor_type_not_allowed'],
    ['the actor type does not exist', { user_type: 'wizard' }, 'actor_type_not_allowed'],
  ];
  for (const [when, overrides, code] of ruleCases) {
    it(`when ${when}, then 400 ${code} and nothing is created`, async () => {
      const body = registerBody(overrides);
      const result = await sdk.register({ client: app.client, body });
      const problem = expectProblem(result, 400, code);
      expect(problem.errors?.length ?? 0).to.be.greaterThan(0);
      expect(await app.db('users').where({ email: body.email }).first()).to.equal(undefined);
    });
  }

  const schemaCases: Array<[string, Record<string, unknown>, string]> = [
    ['the email is malformed', { email: 'not-an-email' }, '/body/email'],
    ['a required field is missing', { first_name: undefined }, '/body/first_name'],
    ['an unknown field is sent', { role: 'admin' }, '/body/role'],
    ['the phone is not E.164', { phone: '0612345678' }, '/body/phone'],
    ['the language is unsupported', { language: 'de' }, '/body/language'],
  ];
  it('refuses control characters in names with 400 (nothing to inject into emails, never a 500)', async () => {
    for (const first_name of ['Jean\u0000', 'Jean,\n\nYour account is locked: https://evil.example']) {
      const problem = expectProblem(await sdk.register({ client: app.client, body: registerBody({ first_name }) }), 400, 'validation_failed');
      expect(problem.errors!.map((e) => e.path)).to.include('/body/first_name');
    }
  });

  for (const [when, overrides, path] of schemaCases) {
    it(`when ${when}, then 400 validation_failed naming ${path}`, async () => {
      const body = { ...registerBody(), ...overrides } as sdk.RegisterRequest;
      const problem = expectProblem(await sdk.register({ client: app.client, body }), 400, 'validation_failed');
      expect(problem.errors!.map((e) => e.path).join(' ')).to.contain(path.split('/').pop());
    });
  }

  it('answers an already registered email exactly like a new one and emails the owner', async () => {
    const first = await registerUser(app);
    const again = registerBody({ email: first.body.email, first_name: 'Other' });
    const { data, response } = await sdk.register({ client: app.client, body: again });
    expect(response?.status).to.equal(201);
    expect(data!.user.id).not.to.equal(first.user.id);
    // Everything but id, email and timestamps equals what a genuinely new registration returns.
    const genuine = (await sdk.register({ client: app.client, body: { ...again, email: uniqueEmail() } })).data!;
    const strip = ({ id: _i, email: _e, created_at: _c, updated_at: _u, ...rest }: sdk.User) => rest;
    expect(strip(data!.user)).to.deep.equal(strip(genuine.user));
    expect(data!.user.email).to.equal(first.body.email);
    expect(Object.keys(data!).sort()).to.deep.equal(Object.keys(genuine).sort());
    const message = await latestMessage(app, first.body.email);
    expect(message.template).to.equal('account_exists');
    expect(await app.db('users').where({ email: first.body.email }).count('* as n').first()).to.deep.equal({ n: '1' });
  });

  it('answers 409 email_already_registered when configured to reveal existing emails', async () => {
    const revealing = await startTestApp({ env: { REGISTER_REVEAL_EXISTING: 'true' } });
    try {
      const first = await registerUser(revealing);
      const result = await sdk.register({ client: revealing.client, body: registerBody({ email: first.body.email }) });
      expectProblem(result, 409, 'email_already_registered');
    } finally {
      await revealing.close();
    }
  });

  it('creates one account when the same email registers twice at once', async () => {
    const body = registerBody();
    const results = await Promise.all([1, 2, 3].map(() => sdk.register({ client: app.client, body })));
    for (const r of results) expect(r.response?.status).to.equal(201);
    expect(await app.db('users').where({ email: body.email }).count('* as n').first()).to.deep.equal({ n: '1' });
  });

  describe('email verification', () => {
    it('activates the user once; the token cannot be used again', async () => {
      const { user, verificationToken } = await registerUser(app);
      const { data } = await sdk.verifyEmail({ client: app.client, body: { token: verificationToken } });
      expect(data).to.include({ id: user.id, status: 'active', email_verified: true });
      expectProblem(await sdk.verifyEmail({ client: app.client, body: { token: verificationToken } }), 400, 'verification_token_invalid');
    });

    it('refuses an unknown token', async () => {
      expectProblem(await sdk.verifyEmail({ client: app.client, body: { token: 'not-a-real-token' } }), 400, 'verification_token_invalid');
    });

    it('refuses a token older than 24 hours', async () => {
      const clock = app.clock;
      const { verificationToken, user } = await registerUser(app);
      clock.advance(24 * 3600 * 1000 + 1000);
      try {
        expectProblem(await sdk.verifyEmail({ client: app.client, body: { token: verificationToken } }), 400, 'verification_token_expired');
        expect((await app.db('users').where({ id: user.id }).first()).status).to.equal('pending_verification');
      } finally {
        clock.advance(-(24 * 3600 * 1000 + 1000));
      }
    });
  });
});
