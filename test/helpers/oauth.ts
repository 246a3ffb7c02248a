import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import * as sdk from '../../sdk/src/index.js';
import { actorTypesRepo } from '../../src/identity/actor-types.repo.js';
import { actorTypePolicy, customActorTypeName } from './actor-types.js';
import { startTestApp, type TestApp } from './app.js';
import { TestBrowser } from './browser.js';
import { startGitHubStandIn, type GitHubStandIn } from './github-standin.js';
import { startTestOidcProvider, type TestOidcProvider } from './oidc-provider.js';

/** The service's public URL in tests (testConfig's PUBLIC_URL): providers redirect browsers there. */
export const publicUrl = 'http://sesame.test';
/** The frontend page sign-ins return to (on OAUTH_REDIRECT_URLS). */
export const frontendCallback = 'http://app.sesame.test/auth/callback';
export const allProviders = ['google', 'github', 'alpha', 'beta'] as const;
export type TestProviderId = (typeof allProviders)[number];

export interface OAuthWorld {
  app: TestApp;
  /** The Google stand-in (oidc-provider, userinfo at /userinfo). */
  google: TestOidcProvider;
  github: GitHubStandIn;
  /** Two generic OpenID Connect providers, `oidc:alpha` and `oidc:beta`. */
  alpha: TestOidcProvider;
  beta: TestOidcProvider;
  /** A self-signup actor type allowing password and every provider. */
  actorType: string;
  close(): Promise<void>;
}

const callback = (id: string) => `${publicUrl}/api/v1/auth/oauth/${id}/callback`;
const client = (id: string) => ({ client_id: `${id}-client`, client_secret: `${id}-client-secret-0123456789`, redirect_uris: [callback(id)] });

/** Every provider a sign-in test needs, real and local, and the app configured for them. */
export async function startOAuthWorld(options: { store?: 'redis' | 'postgres'; env?: Record<string, string> } = {}): Promise<OAuthWorld> {
  const google = await startTestOidcProvider([client('google')]);
  const alpha = await startTestOidcProvider([client('alpha')]);
  const beta = await startTestOidcProvider([client('beta')]);
  const github = await startGitHubStandIn({ clientId: 'github-client', clientSecret: 'github-client-secret-0123456789' });
  const app = await startTestApp({
    store: options.store,
    env: {
      OAUTH_REDIRECT_URLS: `${frontendCallback},http://app.sesame.test/other`,
      OAUTH_GOOGLE_CLIENT_ID: 'google-client',
      OAUTH_GOOGLE_CLIENT_SECRET: client('google').client_secret,
      OAUTH_GOOGLE_ISSUER: google.issuer,
      OAUTH_GOOGLE_AUTHORIZATION_URL: `${google.issuer}/auth`,
      OAUTH_GOOGLE_TOKEN_URL: `${google.issuer}/token`,
      OAUTH_GOOGLE_USERINFO_URL: `${google.issuer}/userinfo`,
      OAUTH_GITHUB_CLIENT_ID: 'github-client',
      OAUTH_GITHUB_CLIENT_SECRET: 'github-client-secret-0123456789',
      OAUTH_GITHUB_AUTHORIZATION_URL: `${github.url}/login/oauth/authorize`,
      OAUTH_GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
      OAUTH_GITHUB_USER_URL: `${github.url}/user`,
      OAUTH_GITHUB_EMAILS_URL: `${github.url}/user/emails`,
      OIDC_ALPHA_ISSUER: alpha.issuer,
      OIDC_ALPHA_CLIENT_ID: 'alpha-client',
      OIDC_ALPHA_CLIENT_SECRET: client('alpha').client_secret,
      OIDC_ALPHA_NAME: 'Alpha ID',
      OIDC_BETA_ISSUER: beta.issuer,
      OIDC_BETA_CLIENT_ID: 'beta-client',
      OIDC_BETA_CLIENT_SECRET: client('beta').client_secret,
      ...options.env,
    },
  });
  const created: string[] = [];
  const actorType = customActorTypeName(created);
  await actorTypesRepo.upsert(app.db, actorType, actorTypePolicy({ allowed_methods: ['password', 'google', 'github', 'oidc:alpha', 'oidc:beta'], self_signup: true }), app.clock.now());
  return {
    app,
    google,
    github,
    alpha,
    beta,
    actorType,
    close: async () => {
      const db = app.db;
      await db('sessions').whereIn('actor_type', created).delete();
      await db('mfa_challenges').whereIn('actor_type', created).delete();
      await db('user_actor_types').whereIn('actor_type', created).delete();
      await db('actor_types').whereIn('name', created).delete();
      await app.close();
      await Promise.all([google.close(), alpha.close(), beta.close(), github.close()]);
    },
  };
}

/**
 * Registers the mocha hooks of a suite that shares one world: started before it (handed to
 * `use`), the app's clock put back after each test, closed after it.
 */
export function useOAuthWorld(use: (world: OAuthWorld) => void, options: Parameters<typeof startOAuthWorld>[0] = {}): void {
  let world: OAuthWorld | undefined;
  let startedAt: Date;
  before(async function () {
    // Four providers and the app: more than mocha's default budget on a loaded machine.
    this.timeout(60_000);
    world = await startOAuthWorld(options);
    use(world);
  });
  beforeEach(() => {
    startedAt = world!.app.clock.now();
  });
  afterEach(() => {
    world?.app.clock.set(startedAt);
  });
  after(async () => {
    await world?.close();
  });
}

/** A browser whose requests to the public URL reach the test app. */
export function browserFor(world: OAuthWorld): TestBrowser {
  return new TestBrowser({ [publicUrl]: world.app.url });
}

/** The start URL of a sign-in (what a frontend's button opens). */
export function startUrl(provider: string, query: Record<string, string> = {}): string {
  const url = new URL(`${publicUrl}/api/v1/auth/oauth/${provider}`);
  url.searchParams.set('redirect_uri', frontendCallback);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url.href;
}

/** The account `login` at a provider: an OIDC subject with its claims, or a GitHub user with its emails. */
export function providerAccount(world: OAuthWorld, provider: TestProviderId, login: string, who: { email?: string; verified?: boolean; given?: string; family?: string }): void {
  if (provider === 'github') {
    world.github.users.set(login, {
      id: randomInt(1, 2 ** 47),
      login,
      name: who.given ? `${who.given} ${who.family ?? ''}`.trim() : undefined,
      emails: who.email ? [{ email: who.email, primary: true, verified: who.verified ?? false }] : [],
    });
    return;
  }
  world[provider].accounts.set(login, { email: who.email, email_verified: who.verified, given_name: who.given, family_name: who.family });
}

/**
 * A sign-in in `browser` from the start URL to the frontend callback, signing in at the provider
 * as `login`; returns the frontend callback's query (`code` or `error`).
 */
export async function signInAtProvider(browser: TestBrowser, provider: string, login: string, query: Record<string, string> = {}): Promise<URLSearchParams> {
  const end = await browser.follow(startUrl(provider, query), { stopAt: frontendCallback, login });
  expect(end.stoppedAt, `the flow ended at ${end.url} with ${end.status}: ${end.body.slice(0, 300)}`).to.be.a('string');
  return new URL(end.stoppedAt!).searchParams;
}

/** Signs in and exchanges the code: the login answer. */
export async function signInAndExchange(world: OAuthWorld, browser: TestBrowser, provider: string, login: string, query: Record<string, string> = {}) {
  const back = await signInAtProvider(browser, provider, login, query);
  expect(back.get('error'), 'the callback refused the sign-in').to.equal(null);
  const exchanged = await sdk.exchangeOAuthCode({ client: world.app.client, body: { code: back.get('code')! } });
  expect(exchanged.error, JSON.stringify(exchanged.error)).to.equal(undefined);
  return exchanged.data!;
}

/** Verifies an access token with the published JWKS, as a gateway would. */
export async function verifyWithJwks(app: TestApp, token: string): Promise<JWTPayload> {
  const jwks = (await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as Parameters<typeof createLocalJWKSet>[0];
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: publicUrl, audience: 'sesame', algorithms: ['ES256'], currentDate: app.clock.now() });
  return payload;
}
