import { Strategy as GitHubStrategy } from 'passport-github2';
import { Strategy as GoogleStrategy } from 'passport-google-oauth20';
import type { PassportProviderConfig } from '../../config/oauth-config.js';
import { assertsVerified, claimEmail, claimText, ProviderAnswerError, type ExternalProfile, type ExternalProvider, type PendingAuthorization } from './providers.js';

/** A passport profile, as passport-google-oauth20 and passport-github2 parse it. */
interface PassportProfile {
  id: string;
  displayName?: string;
  username?: string;
  name?: { givenName?: string; familyName?: string };
  emails?: Array<{ value: string; verified?: unknown; primary?: boolean }>;
}

/** The request a strategy reads, and where the state store adapter below finds the flow. */
interface StrategyRequest {
  query: Record<string, string>;
  body: Record<string, never>;
  flow: { state: string; codeVerifier?: string };
}

/** The slice of a passport-oauth2 strategy this adapter drives (passport's own actions, as promises). */
interface DrivableStrategy {
  authenticate(req: StrategyRequest, options?: Record<string, unknown>): void;
  _oauth2: {
    get(url: string, token: string, callback: (err: unknown, body?: unknown, res?: unknown) => void): void;
    getOAuthAccessToken(code: string, params: Record<string, string>, callback: (err: unknown, access?: string, refresh?: string, results?: Record<string, unknown>) => void): void;
    useAuthorizationHeaderforGET(use: boolean): void;
  };
}

type Outcome = { kind: 'redirect'; url: string } | { kind: 'success'; profile: PassportProfile };

/**
 * The strategies' state store (passport-oauth2's `store` option, PKCE form): Sésame keeps the
 * flow itself, server-side in the fast-path store (one-time-store.ts), so this adapter only hands
 * the strategy the flow's state and verifier; no `req.session` is ever needed.
 */
const flowStateStore = {
  store(req: StrategyRequest, verifier: string, _state: unknown, _meta: unknown, done: (err: unknown, state?: string) => void) {
    req.flow.codeVerifier = verifier;
    done(null, req.flow.state);
  },
  verify(req: StrategyRequest, provided: string, _meta: unknown, done: (err: unknown, ok: string | false, info?: unknown) => void) {
    if (provided !== req.flow.state || !req.flow.codeVerifier) return done(null, false, { message: 'state mismatch' });
    done(null, req.flow.codeVerifier, {});
  },
};

/** How long a provider may take to answer a token or profile request (the HTTP client of passport-oauth2 has no timeout). */
const providerTimeoutMs = 15_000;

/** Runs one strategy step the way passport does (Object.create + actions), with no session. */
function drive(strategy: DrivableStrategy, req: StrategyRequest): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new ProviderAnswerError('oauth_provider_error', 'the provider did not answer in time')), providerTimeoutMs);
    timer.unref();
    const step = Object.create(strategy) as DrivableStrategy & Record<string, unknown>;
    step.redirect = (url: string) => {
      clearTimeout(timer);
      resolve({ kind: 'redirect', url });
    };
    step.success = (profile: PassportProfile) => {
      clearTimeout(timer);
      resolve({ kind: 'success', profile });
    };
    step.fail = (info: unknown) => reject(new ProviderAnswerError('oauth_callback_invalid', `the provider's answer was refused (${JSON.stringify(info)})`));
    step.error = (err: unknown) => reject(classify(err));
    step.pass = () => reject(new ProviderAnswerError('oauth_callback_invalid', 'the strategy passed'));
    try {
      step.authenticate(req, {});
    } catch (err) {
      reject(classify(err));
    }
  });
}

/** A token endpoint refusing the code (TokenError: invalid_grant…) is a forged or replayed answer; anything else, a failing provider. */
function classify(err: unknown): ProviderAnswerError {
  const name = (err as { name?: string }).name;
  if (name === 'TokenError') return new ProviderAnswerError('oauth_callback_invalid', 'the token endpoint refused the code', { cause: err });
  return new ProviderAnswerError('oauth_provider_error', 'the provider could not complete the sign-in', { cause: err });
}

/**
 * Bearer header instead of `?access_token=` on profile requests (no token in a URL); a malformed
 * provider answer becomes an error instead of an exception thrown from a socket callback
 * (passport-github2 parses `/user/emails` unguarded); and a token endpoint that refuses a code
 * with a 200 and an `error` (as GitHub does) is a refusal (TokenError), not a failing provider.
 */
function harden(strategy: DrivableStrategy): void {
  const oauth2 = strategy._oauth2;
  oauth2.useAuthorizationHeaderforGET(true);
  const getToken = oauth2.getOAuthAccessToken.bind(oauth2);
  oauth2.getOAuthAccessToken = (code, params, callback) =>
    getToken(code, params, (err, access, refresh, results) => {
      if (!err && !access && typeof results?.error === 'string') return callback({ statusCode: 400, data: JSON.stringify(results) });
      callback(err, access, refresh, results);
    });
  const get = oauth2.get.bind(oauth2);
  oauth2.get = (url, token, callback) =>
    get(url, token, (err, body, res) => {
      try {
        callback(err, body, res);
      } catch (thrown) {
        if (!err) callback(thrown);
      }
    });
}

/** What both strategies are built with: the client, the endpoints, PKCE, and the flow state store. */
function strategyOptions(config: PassportProviderConfig, callbackUrl: string, own: Record<string, unknown>) {
  return {
    clientID: config.clientId,
    clientSecret: config.clientSecret,
    callbackURL: callbackUrl,
    authorizationURL: config.authorizationUrl,
    tokenURL: config.tokenUrl,
    userProfileURL: config.profileUrl,
    pkce: true,
    state: true,
    store: flowStateStore,
    ...own,
  };
}

const noKeptTokens = (_access: string, _refresh: string, _params: unknown, profile: PassportProfile, done: (err: null, user: PassportProfile) => void) => done(null, profile);

abstract class PassportProvider implements ExternalProvider {
  readonly type: 'google' | 'github';
  readonly method: 'google' | 'github';
  readonly issuer: string;
  protected readonly strategy: DrivableStrategy;

  constructor(
    readonly id: 'google' | 'github',
    readonly name: string,
    config: PassportProviderConfig,
    strategy: unknown,
  ) {
    this.type = id;
    this.method = id;
    this.issuer = config.issuer;
    this.strategy = strategy as DrivableStrategy;
    harden(this.strategy);
  }

  async authorizationUrl(request: Omit<PendingAuthorization, 'codeVerifier'>): Promise<{ url: string; codeVerifier: string }> {
    const req: StrategyRequest = { query: {}, body: {}, flow: { state: request.state } };
    const outcome = await drive(this.strategy, req);
    if (outcome.kind !== 'redirect' || !req.flow.codeVerifier) throw new Error(`the ${this.id} strategy did not redirect with PKCE`);
    return { url: outcome.url, codeVerifier: req.flow.codeVerifier };
  }

  async identify(response: URLSearchParams, pending: PendingAuthorization): Promise<ExternalProfile> {
    const code = response.get('code');
    if (!code) throw new ProviderAnswerError('oauth_callback_invalid', 'the answer has no code');
    const req: StrategyRequest = { query: { code, state: pending.state }, body: {}, flow: { state: pending.state, codeVerifier: pending.codeVerifier } };
    const outcome = await drive(this.strategy, req);
    if (outcome.kind !== 'success' || !outcome.profile.id) throw new ProviderAnswerError('oauth_callback_invalid', 'the provider named nobody');
    return this.profileOf(outcome.profile);
  }

  protected abstract profileOf(profile: PassportProfile): ExternalProfile;
}

/** Google, through passport-google-oauth20 (OpenID Connect userinfo: `sub`, `email_verified`). */
export class GoogleProvider extends PassportProvider {
  constructor(config: PassportProviderConfig, callbackUrl: string) {
    const options = strategyOptions(config, callbackUrl, { scope: ['openid', 'email', 'profile'] });
    super('google', 'Google', config, new GoogleStrategy(options as never, noKeptTokens as never));
  }

  protected profileOf(profile: PassportProfile): ExternalProfile {
    const email = profile.emails?.[0];
    return {
      subject: profile.id,
      email: claimEmail(email?.value),
      emailVerified: email !== undefined && assertsVerified(email.verified),
      givenName: claimText(profile.name?.givenName, 100),
      familyName: claimText(profile.name?.familyName, 100),
      displayName: claimText(profile.displayName, 200),
    };
  }
}

/** GitHub, through passport-github2: the verified flag comes from `/user/emails` (scope `user:email`, all raw emails). */
export class GitHubProvider extends PassportProvider {
  constructor(config: PassportProviderConfig, callbackUrl: string) {
    const options = strategyOptions(config, callbackUrl, { userEmailURL: config.emailsUrl, scope: ['read:user', 'user:email'], allRawEmails: true, userAgent: 'Sesame' });
    super('github', 'GitHub', config, new GitHubStrategy(options as never, noKeptTokens as never));
  }

  protected profileOf(profile: PassportProfile): ExternalProfile {
    // The primary address, verified only when GitHub says so; never another address of the list.
    const primary = profile.emails?.find((e) => e.primary === true);
    return {
      subject: profile.id,
      email: claimEmail(primary?.value),
      emailVerified: primary !== undefined && assertsVerified(primary.verified),
      displayName: claimText(profile.displayName, 200) ?? claimText(profile.username, 200),
    };
  }
}
