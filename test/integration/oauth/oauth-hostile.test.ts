import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { actorTypesRepo } from '../../../src/identity/actor-types.repo.js';
import type { TestBrowser } from '../../helpers/browser.js';
import { loggedInUser, registerUser, tokensOf, uniqueEmail } from '../../helpers/flows.js';
import { browserFor, frontendCallback, providerAccount, publicUrl, signInAndExchange, signInAtProvider, useOAuthWorld, startUrl, type OAuthWorld, type TestProviderId } from '../../helpers/oauth.js';

/**
 * Hostile browsers and providers: forged, replayed, expired and other-browser states, injected
 * codes, a wrong `iss`, a replayed nonce, a second provider answering for the first, and the
 * email-based takeovers (unverified or changed emails). Each ends without a session for the
 * wrong account.
 */
describe('external sign-in against hostile browsers and providers', () => {
  let world: OAuthWorld;
  useOAuthWorld((started) => (world = started));

  const callbackOf = (provider: string) => `${publicUrl}/api/v1/auth/oauth/${provider}/callback`;

  /** Runs a flow in `browser` up to the provider's redirect to Sésame's callback, without delivering it. */
  async function answerFor(browser: TestBrowser, provider: string, login: string): Promise<URL> {
    const stop = await browser.follow(startUrl(provider, { actor_type: world.actorType }), { stopAt: callbackOf(provider), login });
    expect(stop.stoppedAt, stop.body.slice(0, 200)).to.be.a('string');
    return new URL(stop.stoppedAt!);
  }

  /** Delivers a callback URL in `browser`: the frontend callback's query on a redirect, else the problem. */
  async function deliver(browser: TestBrowser, url: URL) {
    const step = await browser.get(url.href);
    if (step.status === 302 && step.location!.startsWith(frontendCallback)) return { redirected: new URL(step.location!).searchParams, step };
    return { problem: JSON.parse(step.body) as sdk.Problem, step };
  }

  function account(provider: TestProviderId, who: { email?: string; verified?: boolean } = {}): string {
    const login = `h-${randomUUID()}`;
    providerAccount(world, provider, login, { email: who.email ?? uniqueEmail(provider), verified: who.verified ?? true });
    return login;
  }

  const sessionCount = async (userId: string) => Number((await world.app.db('sessions').where({ user_id: userId }).count<{ count: string }[]>('id as count'))[0]!.count);

  describe('the state (CSRF, fixation, replay)', () => {
    it('a forged state is 400 oauth_state_invalid with no redirect', async () => {
      const browser = browserFor(world);
      await answerFor(browser, 'alpha', account('alpha'));
      const forged = new URL(callbackOf('alpha'));
      forged.searchParams.set('code', 'whatever');
      forged.searchParams.set('state', randomBytes(32).toString('base64url'));
      const { problem, step } = await deliver(browser, forged);
      expect(step.status).to.equal(400);
      expect(step.location).to.equal(undefined);
      expect(problem!.code).to.equal('oauth_state_invalid');
    });

    it('a state works once: the same answer delivered again is refused', async () => {
      const browser = browserFor(world);
      const answer = await answerFor(browser, 'alpha', account('alpha'));
      const first = await deliver(browser, answer);
      expect(first.redirected!.get('code')).to.be.a('string');
      const second = await deliver(browser, answer);
      expect(second.problem!.code).to.equal('oauth_state_invalid');
    });

    it('an expired state (10 minutes) is refused', async () => {
      const browser = browserFor(world);
      const answer = await answerFor(browser, 'github', account('github'));
      world.app.clock.advance(10 * 60_000 + 1000);
      const { problem } = await deliver(browser, answer);
      expect(problem!.code).to.equal('oauth_state_invalid');
    });

    it("another browser's state is refused (no cookie, or its own cookie), and is used up", async () => {
      const victim = browserFor(world);
      const answer = await answerFor(victim, 'google', account('google'));
      const attacker = browserFor(world);
      expect((await deliver(attacker, answer)).problem!.code).to.equal('oauth_state_invalid');
      const withOwnCookie = browserFor(world);
      await answerFor(withOwnCookie, 'google', account('google'));
      const answer2 = await answerFor(victim, 'google', account('google'));
      expect((await deliver(withOwnCookie, answer2)).problem!.code).to.equal('oauth_state_invalid');
      expect((await deliver(victim, answer2)).problem!.code, 'a state tried by another browser is gone').to.equal('oauth_state_invalid');
    });

    it("a state of one provider delivered to another provider's callback is refused", async () => {
      const browser = browserFor(world);
      const answer = await answerFor(browser, 'alpha', account('alpha'));
      const moved = new URL(callbackOf('beta'));
      moved.search = answer.search;
      expect((await deliver(browser, moved)).problem!.code).to.equal('oauth_state_invalid');
    });
  });

  describe('the answer (injected code, iss, nonce, mix-up)', () => {
    for (const provider of ['alpha', 'google', 'github'] as const) {
      it(`${provider}: a code from another flow, injected with this flow's state, is refused (PKCE)`, async () => {
        const attacker = browserFor(world);
        const stolen = await answerFor(attacker, provider, account(provider));
        const victim = browserFor(world);
        const own = await answerFor(victim, provider, account(provider));
        const injected = new URL(own.href);
        injected.searchParams.set('code', stolen.searchParams.get('code')!);
        const { redirected } = await deliver(victim, injected);
        expect(redirected!.get('error')).to.equal('oauth_callback_invalid');
        expect(redirected!.get('code')).to.equal(null);
      });
    }

    for (const provider of ['alpha', 'google'] as const) {
      it(`${provider}: an answer whose iss names another issuer is refused (RFC 9207)`, async () => {
        const browser = browserFor(world);
        const answer = await answerFor(browser, provider, account(provider));
        expect(answer.searchParams.get('iss'), 'the provider sends iss').to.equal(world[provider].issuer);
        answer.searchParams.set('iss', world.beta.issuer);
        const { redirected } = await deliver(browser, answer);
        expect(redirected!.get('error')).to.equal('oauth_callback_invalid');
      });
    }

    it('an OIDC answer without the iss its provider advertises is refused', async () => {
      const browser = browserFor(world);
      const answer = await answerFor(browser, 'alpha', account('alpha'));
      answer.searchParams.delete('iss');
      expect((await deliver(browser, answer)).redirected!.get('error')).to.equal('oauth_callback_invalid');
    });

    it('an ID token carrying a replayed nonce is refused', async () => {
      const first = browserFor(world);
      const used = new URL((await first.get(startUrl('alpha', { actor_type: world.actorType }))).location!).searchParams.get('nonce')!;
      const browser = browserFor(world);
      const toProvider = new URL((await browser.get(startUrl('alpha', { actor_type: world.actorType }))).location!);
      toProvider.searchParams.set('nonce', used);
      const stop = await browser.follow(toProvider.href, { stopAt: callbackOf('alpha'), login: account('alpha') });
      const { redirected } = await deliver(browser, new URL(stop.stoppedAt!));
      expect(redirected!.get('error')).to.equal('oauth_callback_invalid');
    });

    it('a second provider answering for the first (mix-up) gets no session', async () => {
      const victimLogin = account('alpha');
      const browser = browserFor(world);
      const alphaAnswer = await answerFor(browser, 'alpha', victimLogin);
      const betaAnswer = await answerFor(browserFor(world), 'beta', account('beta'));
      // beta's code and iss, delivered with alpha's state to alpha's callback.
      const mixed = new URL(callbackOf('alpha'));
      mixed.searchParams.set('state', alphaAnswer.searchParams.get('state')!);
      mixed.searchParams.set('code', betaAnswer.searchParams.get('code')!);
      mixed.searchParams.set('iss', world.beta.issuer);
      expect((await deliver(browser, mixed)).redirected!.get('error')).to.equal('oauth_callback_invalid');
      // The same without iss: beta's code means nothing at alpha's token endpoint.
      const again = await answerFor(browser, 'alpha', victimLogin);
      const betaCode = (await answerFor(browserFor(world), 'beta', account('beta'))).searchParams.get('code')!;
      const noIss = new URL(callbackOf('alpha'));
      noIss.searchParams.set('state', again.searchParams.get('state')!);
      noIss.searchParams.set('code', betaCode);
      noIss.searchParams.set('iss', world.alpha.issuer);
      expect((await deliver(browser, noIss)).redirected!.get('error')).to.equal('oauth_callback_invalid');
    });

    it('a provider answering garbage (GitHub emails that are not JSON) is oauth_provider_error, and the service stays up', async () => {
      const login = `gh-${randomUUID()}`;
      world.github.users.set(login, { id: randomInt(1, 2 ** 47), login, emails: [], brokenEmails: true });
      const back = await signInAtProvider(browserFor(world), 'github', login, { actor_type: world.actorType });
      expect(back.get('error')).to.equal('oauth_provider_error');
      expect((await fetch(`${world.app.url}/healthz`)).status).to.equal(200);
    });

    it('a provider error is passed on as oauth_access_denied or oauth_provider_error', async () => {
      for (const [error, expected] of [
        ['access_denied', 'oauth_access_denied'],
        ['server_error', 'oauth_provider_error'],
      ]) {
        const browser = browserFor(world);
        const state = new URL((await browser.get(startUrl('github', { actor_type: world.actorType }))).location!).searchParams.get('state')!;
        const url = new URL(callbackOf('github'));
        url.searchParams.set('state', state);
        url.searchParams.set('error', error!);
        expect((await deliver(browser, url)).redirected!.get('error')).to.equal(expected);
      }
    });
  });

  describe('email takeovers', () => {
    for (const provider of ['alpha', 'google', 'github'] as const) {
      it(`${provider}: an unverified provider email of an existing account is account_exists, no session, no link`, async () => {
        const owner = await loggedInUser(world.app);
        const login = account(provider, { email: owner.body.email, verified: false });
        const before = await sessionCount(owner.user.id);
        const back = await signInAtProvider(browserFor(world), provider, login, { actor_type: world.actorType });
        expect(back.get('error')).to.equal('account_exists');
        expect(back.get('code')).to.equal(null);
        expect(await sessionCount(owner.user.id)).to.equal(before);
        expect(await world.app.db('user_identities').where({ user_id: owner.user.id }).count<{ count: string }[]>('id as count')).to.deep.equal([{ count: '0' }]);
        const audit = await world.app.db('audit_logs').where({ user_id: owner.user.id, event: 'login.failed' }).orderBy('created_at', 'desc').first();
        expect(audit.details).to.deep.include({ reason: 'account_exists' });
      });
    }

    it('an account whose own email is unverified is never taken over, even by a verified provider email', async () => {
      const squatter = await registerUser(world.app);
      const login = account('alpha', { email: squatter.body.email, verified: true });
      const back = await signInAtProvider(browserFor(world), 'alpha', login, { actor_type: world.actorType });
      expect(back.get('error')).to.equal('account_exists');
      expect(await sessionCount(squatter.user.id)).to.equal(0);
    });

    it("GitHub: only the primary address counts, verified only when GitHub says so (another verified address is ignored)", async () => {
      const owner = await loggedInUser(world.app);
      const login = `gh-${randomUUID()}`;
      world.github.users.set(login, {
        id: randomInt(1, 2 ** 47),
        login,
        emails: [
          { email: uniqueEmail('primary'), primary: true, verified: false },
          { email: owner.body.email, primary: false, verified: true },
        ],
      });
      const answer = tokensOf(await signInAndExchange(world, browserFor(world), 'github', login, { actor_type: world.actorType }));
      expect(answer.user.id).to.not.equal(owner.user.id);
      expect(answer.user.email, 'an unverified primary address is not the account email').to.equal(null);
    });

    it('a first sign-in with an unverified email creates an account without that email', async () => {
      const email = uniqueEmail('unverified');
      const answer = tokensOf(await signInAndExchange(world, browserFor(world), 'alpha', account('alpha', { email, verified: false }), { actor_type: world.actorType }));
      expect(answer.user.email).to.equal(null);
      expect(answer.user.email_verified).to.equal(false);
      const identities = await sdk.listIdentities({ client: world.app.client, auth: answer.access_token });
      expect(identities.data!.items[0]).to.deep.include({ provider: 'alpha', email, email_verified: false });
    });

    it('a provider changing the email of a known subject to another account\'s does not move the identity', async () => {
      const login = account('alpha');
      const first = tokensOf(await signInAndExchange(world, browserFor(world), 'alpha', login, { actor_type: world.actorType }));
      const other = await loggedInUser(world.app);
      world.alpha.accounts.set(login, { email: other.body.email, email_verified: true });
      const otherSessions = await sessionCount(other.user.id);
      const again = tokensOf(await signInAndExchange(world, browserFor(world), 'alpha', login, { actor_type: world.actorType }));
      expect(again.user.id).to.equal(first.user.id);
      expect(again.user.email, "the account's email is not changed by the provider").to.equal(first.user.email);
      expect(await sessionCount(other.user.id)).to.equal(otherSessions);
    });

    it('both emails verified: the existing account is linked automatically and signed in', async () => {
      const owner = await loggedInUser(world.app);
      await actorTypesRepo.grant(world.app.db, owner.user.id, world.actorType);
      const answer = tokensOf(await signInAndExchange(world, browserFor(world), 'google', account('google', { email: owner.body.email, verified: true }), { actor_type: world.actorType }));
      expect(answer.user.id).to.equal(owner.user.id);
      const identities = await sdk.listIdentities({ client: world.app.client, auth: answer.access_token });
      expect(identities.data!.items.map((i) => i.provider)).to.deep.equal(['google']);
    });

    it('both emails verified but no actor type of the account allows the provider: refused, not linked', async () => {
      const owner = await loggedInUser(world.app);
      const back = await signInAtProvider(browserFor(world), 'google', account('google', { email: owner.body.email, verified: true }));
      expect(back.get('error')).to.equal('auth_method_not_allowed');
      expect(await world.app.db('user_identities').where({ user_id: owner.user.id }).first()).to.equal(undefined);
    });
  });
});
