import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { actorTypesRepo } from '../../../src/identity/actor-types.repo.js';
import { actorTypePolicy } from '../../helpers/actor-types.js';
import { expectProblem, tokensOf, uniqueEmail } from '../../helpers/flows.js';
import { browserFor, providerAccount, signInAndExchange, signInAtProvider, useOAuthWorld, type OAuthWorld } from '../../helpers/oauth.js';
import { totpCodes } from '../../helpers/probes.js';
import { adminUser } from '../../helpers/rbac.js';

/** The one-time code of the redirect, its exchange for the login answer, and the policy and 2FA around it. */
function describeExchange(store: 'redis' | 'postgres'): void {
  describe(`external sign-in: the exchange (${store} fast-path store)`, () => {
    let world: OAuthWorld;
    useOAuthWorld((started) => (world = started), { store });
    const { codeAt, nextStep } = totpCodes(() => world.app);

    function account(provider: 'alpha' | 'github' = 'alpha'): string {
      const login = `x-${randomUUID()}`;
      providerAccount(world, provider, login, { email: uniqueEmail('exchange'), verified: true });
      return login;
    }
    const exchange = (code: string, extra: Partial<sdk.OAuthExchangeRequest> = {}) => sdk.exchangeOAuthCode({ client: world.app.client, body: { code, ...extra } });

    it('a code works once', async () => {
      const back = await signInAtProvider(browserFor(world), 'alpha', account(), { actor_type: world.actorType });
      tokensOf((await exchange(back.get('code')!)).data);
      expectProblem(await exchange(back.get('code')!), 400, 'oauth_code_invalid');
    });

    it('parallel exchanges of one code: exactly one gets tokens', async () => {
      const back = await signInAtProvider(browserFor(world), 'alpha', account(), { actor_type: world.actorType });
      const results = await Promise.all(Array.from({ length: 8 }, () => exchange(back.get('code')!)));
      expect(results.filter((r) => r.response!.status === 200)).to.have.length(1);
      for (const r of results.filter((x) => x.response!.status !== 200)) expectProblem(r, 400, 'oauth_code_invalid');
    });

    it('a code is dead after 60 seconds', async () => {
      const back = await signInAtProvider(browserFor(world), 'github', account('github'), { actor_type: world.actorType });
      world.app.clock.advance(60_000);
      expectProblem(await exchange(back.get('code')!), 400, 'oauth_code_invalid');
    });

    it("with the frontend's own PKCE, the exchange needs the matching code_verifier", async () => {
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const query = { actor_type: world.actorType, code_challenge: challenge, code_challenge_method: 'S256' };
      const login = account();
      const missing = await signInAtProvider(browserFor(world), 'alpha', login, query);
      expectProblem(await exchange(missing.get('code')!), 400, 'code_verifier_mismatch');
      const wrong = await signInAtProvider(browserFor(world), 'alpha', login, query);
      expectProblem(await exchange(wrong.get('code')!, { code_verifier: randomBytes(32).toString('base64url') }), 400, 'code_verifier_mismatch');
      const right = await signInAtProvider(browserFor(world), 'alpha', login, query);
      tokensOf((await exchange(right.get('code')!, { code_verifier: verifier })).data);
      const unasked = await signInAtProvider(browserFor(world), 'alpha', login, { actor_type: world.actorType });
      expectProblem(await exchange(unasked.get('code')!, { code_verifier: verifier }), 400, 'code_verifier_mismatch');
    });

    it('2FA still applies: an account with TOTP gets the challenge, then tokens with amr ext+provider+otp', async () => {
      const login = account();
      const first = tokensOf(await signInAndExchange(world, browserFor(world), 'alpha', login, { actor_type: world.actorType }));
      const setup = (await sdk.enableTwoFactor({ client: world.app.client, auth: first.access_token })).data!;
      const confirmed = await sdk.confirmTwoFactor({ client: world.app.client, auth: first.access_token, body: { code: await codeAt(setup.secret) } });
      expect(confirmed.error, JSON.stringify(confirmed.error)).to.equal(undefined);
      nextStep();
      const challenge = (await signInAndExchange(world, browserFor(world), 'alpha', login, { actor_type: world.actorType })) as sdk.MfaChallenge;
      expect(challenge.mfa_required).to.equal(true);
      expect(challenge).to.not.have.property('access_token');
      const verified = await sdk.verifyTwoFactor({ client: world.app.client, body: { mfa_token: challenge.mfa_token, code: await codeAt(setup.secret) } });
      const tokens = tokensOf(verified.data);
      const sessions = await sdk.listSessions({ client: world.app.client, auth: tokens.access_token });
      const current = sessions.data!.items.find((s) => s.current)!;
      expect(current.auth_method).to.equal('oidc:alpha');
      expect(current.amr).to.deep.equal(['ext', 'alpha', 'otp']);
    });

    it('an actor type that requires 2FA: the external sign-in must enrol first (mfa_setup_required)', async () => {
      const admin = await adminUser(world.app);
      const strict = `t-${randomBytes(5).toString('hex')}`;
      await sdk.putActorType({ client: world.app.client, auth: admin.session.access_token, path: { name: strict }, body: actorTypePolicy({ allowed_methods: ['oidc:alpha'], self_signup: true, require_2fa: true }) });
      try {
        const answer = (await signInAndExchange(world, browserFor(world), 'alpha', account(), { actor_type: strict })) as sdk.MfaChallenge;
        expect(answer.mfa_required).to.equal(true);
        expect(answer.mfa_setup_required).to.equal(true);
      } finally {
        await world.app.db('mfa_challenges').where({ actor_type: strict }).delete();
        await world.app.db('user_actor_types').where({ actor_type: strict }).delete();
        await world.app.db('actor_types').where({ name: strict }).delete();
      }
    });

    it('the policy is checked again at the callback: a method withdrawn after the start is refused', async () => {
      const admin = await adminUser(world.app);
      const name = `t-${randomBytes(5).toString('hex')}`;
      const put = (methods: string[]) => sdk.putActorType({ client: world.app.client, auth: admin.session.access_token, path: { name }, body: actorTypePolicy({ allowed_methods: methods, self_signup: true }) });
      await put(['github']);
      try {
        const browser = browserFor(world);
        const login = account('github');
        const toProvider = (await browser.get(`http://sesame.test/api/v1/auth/oauth/github?redirect_uri=${encodeURIComponent('http://app.sesame.test/auth/callback')}&actor_type=${name}`)).location!;
        await put(['password']);
        const end = await browser.follow(toProvider, { stopAt: 'http://app.sesame.test/auth/callback', login });
        expect(new URL(end.stoppedAt!).searchParams.get('error')).to.equal('auth_method_not_allowed');
      } finally {
        await world.app.db('user_actor_types').where({ actor_type: name }).delete();
        await world.app.db('actor_types').where({ name }).delete();
      }
    });

    it('a first sign-in as an actor type without self-signup creates nothing (actor_type_not_allowed)', async () => {
      const admin = await adminUser(world.app);
      const name = `t-${randomBytes(5).toString('hex')}`;
      await sdk.putActorType({ client: world.app.client, auth: admin.session.access_token, path: { name }, body: actorTypePolicy({ allowed_methods: ['oidc:alpha'], self_signup: false }) });
      try {
        const email = uniqueEmail('nosignup');
        const login = `n-${randomUUID()}`;
        providerAccount(world, 'alpha', login, { email, verified: true });
        const back = await signInAtProvider(browserFor(world), 'alpha', login, { actor_type: name });
        expect(back.get('error')).to.equal('actor_type_not_allowed');
        expect(await world.app.db('users').where({ email }).first()).to.equal(undefined);
      } finally {
        await world.app.db('actor_types').where({ name }).delete();
      }
    });

    it('a suspended account gets no tokens at the exchange', async () => {
      const login = account();
      const first = tokensOf(await signInAndExchange(world, browserFor(world), 'alpha', login, { actor_type: world.actorType }));
      await world.app.db('users').where({ id: first.user.id }).update({ status: 'suspended' });
      const back = await signInAtProvider(browserFor(world), 'alpha', login, { actor_type: world.actorType });
      expectProblem(await exchange(back.get('code')!), 403, 'account_suspended');
    });

    it('records the sign-in in the audit log with the provider', async () => {
      const answer = tokensOf(await signInAndExchange(world, browserFor(world), 'github', account('github'), { actor_type: world.actorType }));
      const events = await world.app.db('audit_logs').where({ user_id: answer.user.id }).orderBy('created_at').pluck('event');
      expect(events).to.include.members(['user.registered', 'identity.linked', 'login.succeeded']);
      const login = await world.app.db('audit_logs').where({ user_id: answer.user.id, event: 'login.succeeded' }).first();
      expect(login.details).to.deep.include({ auth_method: 'github', amr: ['ext', 'github'] });
      expect(await actorTypesRepo.heldBy(world.app.db, answer.user.id)).to.have.length(1);
    });
  });
}

describeExchange('redis');
describeExchange('postgres');
