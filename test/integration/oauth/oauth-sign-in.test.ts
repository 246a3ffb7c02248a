import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { expectProblem, tokensOf, uniqueEmail } from '../../helpers/flows.js';
import { allProviders, browserFor, frontendCallback, providerAccount, signInAndExchange, signInAtProvider, useOAuthWorld, startUrl, verifyWithJwks, type OAuthWorld } from '../../helpers/oauth.js';

/**
 * Sign-in with Google (stand-in: oidc-provider), GitHub (local stand-in) and two generic OpenID
 * Connect providers (oidc-provider), end to end with plain HTTP in the browser's place and the
 * SDK in the frontend's place.
 */
describe('external sign-in (Google, GitHub, OpenID Connect)', () => {
  let world: OAuthWorld;
  useOAuthWorld((started) => (world = started));

  const methodOf = (provider: string) => (provider === 'google' || provider === 'github' ? provider : `oidc:${provider}`);

  it('lists the configured providers', async () => {
    const { data, error } = await sdk.listOAuthProviders({ client: world.app.client });
    expect(error).to.equal(undefined);
    expect(data!.items).to.deep.equal([
      { id: 'google', name: 'Google', type: 'google' },
      { id: 'github', name: 'GitHub', type: 'github' },
      { id: 'alpha', name: 'Alpha ID', type: 'oidc' },
      { id: 'beta', name: 'beta', type: 'oidc' },
    ]);
  });

  for (const provider of allProviders) {
    it(`${provider}: a first sign-in creates the account; tokens verify with the JWKS and carry amr ext+${provider}`, async () => {
      const login = `first-${randomUUID()}`;
      const email = uniqueEmail(provider);
      providerAccount(world, provider, login, { email, verified: true, given: 'Ada', family: 'Lovelace' });
      const answer = tokensOf(await signInAndExchange(world, browserFor(world), provider, login, { actor_type: world.actorType }));
      expect(answer.user.email).to.equal(email);
      expect(answer.user.email_verified).to.equal(true);
      expect(answer.user.status).to.equal('active');
      expect(answer.user.actor_types).to.deep.equal([world.actorType]);
      const claims = await verifyWithJwks(world.app, answer.access_token);
      expect(claims.sub).to.equal(answer.user.id);
      expect(claims.amr).to.deep.equal(['ext', provider === 'google' || provider === 'github' ? provider : provider]);
      expect(claims.actor_type).to.equal(world.actorType);

      const sessions = await sdk.listSessions({ client: world.app.client, auth: answer.access_token });
      expect(sessions.data!.items[0]!.auth_method).to.equal(methodOf(provider));
      expect(sessions.data!.items[0]!.amr).to.deep.equal(['ext', provider]);

      // A second sign-in finds the same account by the provider's subject.
      const again = tokensOf(await signInAndExchange(world, browserFor(world), provider, login, { actor_type: world.actorType }));
      expect(again.user.id).to.equal(answer.user.id);
    });
  }

  it('the redirect to the provider carries state, PKCE S256 and (OIDC) a nonce; the cookie is HttpOnly and SameSite=Lax', async () => {
    const res = await fetch(world.app.url + new URL(startUrl('alpha', { actor_type: world.actorType })).pathname + new URL(startUrl('alpha', { actor_type: world.actorType })).search, { redirect: 'manual' });
    expect(res.status).to.equal(302);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).to.equal(world.alpha.issuer);
    expect(location.searchParams.get('state')).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get('nonce')).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get('code_challenge_method')).to.equal('S256');
    expect(location.searchParams.get('code_challenge')).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get('redirect_uri')).to.equal('http://sesame.test/api/v1/auth/oauth/alpha/callback');
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).to.match(/^sesame_oauth=[A-Za-z0-9_-]{43};/);
    expect(cookie).to.match(/HttpOnly/i).and.match(/SameSite=Lax/i);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    for (const provider of ['google', 'github']) {
      const r = await fetch(`${world.app.url}/api/v1/auth/oauth/${provider}?redirect_uri=${encodeURIComponent(frontendCallback)}&actor_type=${world.actorType}`, { redirect: 'manual' });
      const to = new URL(r.headers.get('location')!);
      expect(to.searchParams.get('code_challenge_method'), provider).to.equal('S256');
      expect(to.searchParams.get('state'), provider).to.match(/^[A-Za-z0-9_-]{43}$/);
    }
  });

  it('a redirect_uri off the allow-list is 400 with no redirect', async () => {
    const result = await sdk.startOAuth({ client: world.app.client, path: { provider: 'google' }, query: { redirect_uri: 'https://evil.example/callback' }, redirect: 'manual' });
    expectProblem(result, 400, 'redirect_uri_not_allowed');
    expect(result.response!.headers.get('location')).to.equal(null);
    const near = await sdk.startOAuth({ client: world.app.client, path: { provider: 'google' }, query: { redirect_uri: `${frontendCallback}/` }, redirect: 'manual' });
    expectProblem(near, 400, 'redirect_uri_not_allowed');
  });

  it('an unknown provider is 404; an actor type that does not allow the provider is 403 before any redirect', async () => {
    expectProblem(await sdk.startOAuth({ client: world.app.client, path: { provider: 'nope' }, query: { redirect_uri: frontendCallback }, redirect: 'manual' }), 404, 'oauth_provider_not_found');
    const refused = await sdk.startOAuth({ client: world.app.client, path: { provider: 'google' }, query: { redirect_uri: frontendCallback, actor_type: 'citizen' }, redirect: 'manual' });
    expectProblem(refused, 403, 'auth_method_not_allowed');
    expect(refused.response!.headers.get('location')).to.equal(null);
  });
});
