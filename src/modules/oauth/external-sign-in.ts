import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { OAuthProvider as OAuthProviderDto } from '../../../sdk/src/types.gen.js';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { firstFactorAmr, parseAuthMethod, type AuthMethod } from '../../identity/auth-method.js';
import type { DeviceInput } from '../../identity/sessions/sessions.js';
import { loginAnswer, type LoginAnswer, type SignInPipeline } from '../../identity/sign-in.js';
import { normalizeEmail, usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import type { FastStore } from '../../infra/store/store.js';
import { hashOpaqueToken, opaqueTokenFormat } from '../../infra/tokens.js';
import { AppError, DependencyUnavailableError, type ErrorCode } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { resolveAccount } from './account-resolution.js';
import { identitiesRepo, type ExternalIdentity } from './identities.repo.js';
import { newSecret, OneTimeStore } from './one-time-store.js';
import { callbackUrlFor, ProviderAnswerError, type ExternalProfile, type ExternalProvider, type PendingAuthorization } from './providers.js';

/** A flow between the start (or a link) and the provider's answer: what the callback must check and remember. */
interface Flow {
  provider: string;
  purpose: 'sign_in' | 'link';
  /** Sign-ins: the hash of the browser's binding cookie. */
  browser?: string;
  /** Links: the account that started it (the bearer of the confirmation must be the same). */
  linkUserId?: string;
  actorType?: string;
  redirectUri: string;
  rememberMe: boolean;
  codeVerifier: string;
  nonce: string;
  /** The frontend's own PKCE challenge, checked at the exchange. */
  codeChallenge?: string;
}

/** What a one-time exchange code stands for. */
type CodeGrant =
  | { purpose: 'sign_in'; method: AuthMethod; userId: string; actorType?: string; rememberMe: boolean; codeChallenge?: string }
  | { purpose: 'link'; userId: string; identity: ExternalIdentity; codeChallenge?: string };

export interface StartInput {
  provider: string;
  redirectUri: string;
  actorType?: string;
  codeChallenge?: string;
  rememberMe: boolean;
}

export interface ExchangeInput {
  code: string;
  code_verifier?: string;
  device?: DeviceInput;
}

export interface ExternalSignInSettings {
  /** `{publicUrl}/api/v1/auth/oauth/{provider}/callback` is each provider's callback. */
  publicUrl: string;
  redirectUrls: string[];
  defaultActorType: string;
}

export interface ExternalSignInDeps {
  db: Knex;
  clock: Clock;
  store: FastStore;
  logger: Logger;
  signIn: SignInPipeline;
  providers: ExternalProvider[];
  settings: ExternalSignInSettings;
}

/** A flow lives 10 minutes (time to sign in at the provider); an exchange code 60 seconds. */
export const flowTtlMs = 10 * 60_000;
export const codeTtlMs = 60_000;

/** Refusals the callback answers with a redirect (`?error=`), as the spec's x-redirect-error-codes lists them. */
const redirectedCodes = new Set<ErrorCode>(['account_exists', 'actor_type_not_allowed', 'auth_method_not_allowed', 'identity_already_linked', 'oauth_access_denied', 'oauth_callback_invalid', 'oauth_provider_error', 'service_unavailable']);

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/**
 * Sign-in with an external provider (README "Sign in with Google, GitHub or OpenID Connect"):
 * the start checks the request and opens a flow, the callback verifies the provider's answer
 * against the flow and finds the account, and the exchange of the one-time code ends in the
 * sign-in pipeline (which applies the account state, the actor type and 2FA). Links to a
 * signed-in account take the same path and are confirmed by that account's bearer.
 */
export class ExternalSignIn {
  private readonly flows: OneTimeStore<Flow>;
  private readonly codes: OneTimeStore<CodeGrant>;
  private readonly byId: Map<string, ExternalProvider>;

  constructor(private readonly deps: ExternalSignInDeps) {
    this.flows = new OneTimeStore(deps.store, deps.clock, 'oauth:flow', flowTtlMs);
    this.codes = new OneTimeStore(deps.store, deps.clock, 'oauth:code', codeTtlMs);
    this.byId = new Map(deps.providers.map((p) => [p.id, p]));
  }

  list(): OAuthProviderDto[] {
    return this.deps.providers.map((p) => ({ id: p.id, name: p.name, type: p.type }));
  }

  callbackUrl(providerId: string): string {
    return callbackUrlFor(this.deps.settings.publicUrl, providerId);
  }

  /** Checks the request (provider, redirect URI, actor-type policy) before anyone is redirected, then opens a flow bound to the browser. */
  async start(input: StartInput, browserSecret: string | undefined): Promise<{ location: string; browserSecret: string }> {
    const provider = this.provider(input.provider);
    this.assertRedirectAllowed(input.redirectUri);
    const policy = input.actorType === undefined ? await actorTypesRepo.listPublic(this.deps.db) : [await actorTypesRepo.find(this.deps.db, input.actorType)];
    if (!policy.some((type) => type && actorPolicy.allowsMethod(type, provider.method))) {
      throw new AppError('auth_method_not_allowed', { detail: `Signing in with ${provider.name} is not allowed${input.actorType ? ` for the actor type '${input.actorType}'` : ''}.` });
    }
    // A browser with a live binding keeps it, so two sign-ins started in two tabs both finish.
    const secret = browserSecret && opaqueTokenFormat.test(browserSecret) ? browserSecret : newSecret();
    const location = await this.openFlow(provider, {
      purpose: 'sign_in',
      browser: hashOpaqueToken(secret),
      actorType: input.actorType,
      redirectUri: input.redirectUri,
      rememberMe: input.rememberMe,
      codeChallenge: input.codeChallenge,
    });
    return { location, browserSecret: secret };
  }

  /** A link from a signed-in session: a flow bound to the account, whose code only that account's bearer can confirm. */
  async startLink(userId: string, providerId: string, input: { redirect_uri: string; code_challenge?: string }): Promise<{ authorization_url: string }> {
    const provider = this.provider(providerId);
    this.assertRedirectAllowed(input.redirect_uri);
    if (!actorPolicy.anyAllows(await actorTypesRepo.heldBy(this.deps.db, userId), provider.method)) {
      throw new AppError('auth_method_not_allowed', { detail: `None of your actor types allows signing in with ${provider.name}.` });
    }
    const location = await this.openFlow(provider, { purpose: 'link', linkUserId: userId, redirectUri: input.redirect_uri, rememberMe: true, codeChallenge: input.code_challenge });
    return { authorization_url: location };
  }

  /**
   * The provider's answer. A state this browser did not start (or already used, expired, or
   * started for another provider) is 400 with no redirect. Otherwise the browser goes back to
   * the flow's redirect URI with a one-time code, or with the refusal's code.
   */
  async callback(providerId: string, response: URLSearchParams, browserSecret: string | undefined, context: RequestContext): Promise<string> {
    const provider = this.provider(providerId);
    const state = response.get('state');
    const flow = state ? await this.guard(() => this.flows.take(state)) : undefined;
    const bound = flow?.purpose === 'link' || (browserSecret !== undefined && flow?.browser === hashOpaqueToken(browserSecret));
    if (!state || !flow || flow.provider !== provider.id || !bound) {
      throw new AppError('oauth_state_invalid', { detail: 'This sign-in was not started in this browser, was already used, or has expired: start again.' });
    }
    const back = (params: Record<string, string>) => {
      const url = new URL(flow.redirectUri);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return url.href;
    };
    try {
      const { identity, profile } = await this.identify(provider, response, { state, nonce: flow.nonce, codeVerifier: flow.codeVerifier, callbackUrl: this.callbackUrl(provider.id) });
      const grant = flow.purpose === 'link' ? await this.linkGrant(flow, identity) : await this.signInGrant(flow, provider, identity, profile, context);
      return back({ code: await this.guard(() => this.codes.put(grant)) });
    } catch (err) {
      const code = err instanceof ProviderAnswerError || err instanceof AppError ? err.code : undefined;
      if (!code || !redirectedCodes.has(code)) throw err;
      this.deps.logger.info({ provider: provider.id, code, reason: err instanceof Error ? err.message : undefined }, 'external sign-in refused');
      return back({ error: code });
    }
  }

  /** The one-time code of a sign-in redirect → the login answer (tokens, or the 2FA challenge). */
  async exchange(input: ExchangeInput, context: RequestContext): Promise<LoginAnswer> {
    const grant = await this.takeCode(input.code, input.code_verifier);
    const user = grant.purpose === 'sign_in' ? await usersRepo.findLiveById(this.deps.db, grant.userId) : undefined;
    if (grant.purpose !== 'sign_in' || !user) throw invalidCode();
    const method = parseAuthMethod(grant.method);
    const result = await this.deps.signIn.complete({ user, method, amr: firstFactorAmr(method), actorType: grant.actorType, rememberMe: grant.rememberMe, device: input.device, context });
    return loginAnswer(result);
  }

  /** The one-time code of a link redirect, presented by the account that started the link. */
  async takeLinkCode(userId: string, code: string, verifier: string | undefined): Promise<ExternalIdentity> {
    const grant = await this.takeCode(code, verifier);
    if (grant.purpose !== 'link') throw invalidCode();
    if (grant.userId !== userId) throw new AppError('identity_link_mismatch', { detail: 'This link was started by another account: start it again from your own session.' });
    return grant.identity;
  }

  private provider(id: string): ExternalProvider {
    const provider = this.byId.get(id);
    if (!provider) throw new AppError('oauth_provider_not_found', { detail: `No sign-in provider '${id}' is configured.` });
    return provider;
  }

  private assertRedirectAllowed(redirectUri: string): void {
    if (!this.deps.settings.redirectUrls.includes(redirectUri)) {
      throw new AppError('redirect_uri_not_allowed', { detail: 'redirect_uri must be one of the URLs of OAUTH_REDIRECT_URLS, exactly.', errors: [{ path: '/query/redirect_uri', message: 'is not on the allow-list' }] });
    }
  }

  private async openFlow(provider: ExternalProvider, flow: Omit<Flow, 'provider' | 'codeVerifier' | 'nonce'>): Promise<string> {
    const state = newSecret();
    const nonce = newSecret();
    let authorization: { url: string; codeVerifier: string };
    try {
      authorization = await provider.authorizationUrl({ state, nonce, callbackUrl: this.callbackUrl(provider.id) });
    } catch (err) {
      throw new DependencyUnavailableError(`the ${provider.name} provider`, err);
    }
    await this.guard(() => this.flows.put({ ...flow, provider: provider.id, codeVerifier: authorization.codeVerifier, nonce }, state));
    return authorization.url;
  }

  /** The provider's answer, checked: its error, its `iss` (RFC 9207, against mix-up), then the provider's own verification. */
  private async identify(provider: ExternalProvider, response: URLSearchParams, pending: PendingAuthorization): Promise<{ identity: ExternalIdentity; profile: ExternalProfile }> {
    const error = response.get('error');
    if (error !== null) throw new ProviderAnswerError(error === 'access_denied' ? 'oauth_access_denied' : 'oauth_provider_error', `the provider answered ${error}`);
    const iss = response.get('iss');
    if (iss !== null && iss !== provider.issuer) throw new ProviderAnswerError('oauth_callback_invalid', 'the answer names another issuer');
    const profile = await provider.identify(response, pending);
    if (!profile.subject || profile.subject.length > 255) throw new ProviderAnswerError('oauth_callback_invalid', 'the subject is missing or too long');
    const email = profile.email ? normalizeEmail(profile.email) : null;
    return { identity: { provider: provider.id, issuer: provider.issuer, subject: profile.subject, email, emailVerified: profile.emailVerified }, profile };
  }

  private async signInGrant(flow: Flow, provider: ExternalProvider, identity: ExternalIdentity, profile: ExternalProfile, context: RequestContext): Promise<CodeGrant> {
    const outcome = await resolveAccount(this.deps.db, this.deps.clock, {
      method: provider.method,
      identity,
      profile,
      actorType: flow.actorType,
      defaultActorType: this.deps.settings.defaultActorType,
      context,
    });
    if ('refused' in outcome) {
      if (outcome.refused === 'account_exists') {
        await recordAudit(this.deps.db, this.deps.clock, { event: 'login.failed', userId: outcome.userId, identifier: identity.email, context, details: { reason: 'account_exists', auth_method: provider.method } });
      }
      throw new AppError(outcome.refused);
    }
    return { purpose: 'sign_in', method: provider.method, userId: outcome.userId, actorType: flow.actorType, rememberMe: flow.rememberMe, codeChallenge: flow.codeChallenge };
  }

  private async linkGrant(flow: Flow, identity: ExternalIdentity): Promise<CodeGrant> {
    const existing = await identitiesRepo.findByKey(this.deps.db, identity);
    if (existing && existing.user_id !== flow.linkUserId) throw new AppError('identity_already_linked');
    return { purpose: 'link', userId: flow.linkUserId!, identity, codeChallenge: flow.codeChallenge };
  }

  private async takeCode(code: string, verifier: string | undefined): Promise<CodeGrant> {
    const grant = await this.guard(() => this.codes.take(code));
    if (!grant) throw invalidCode();
    const matches = grant.codeChallenge === undefined ? verifier === undefined : verifier !== undefined && s256(verifier) === grant.codeChallenge;
    if (!matches) {
      throw new AppError('code_verifier_mismatch', { detail: 'code_verifier must be the verifier of the code_challenge the start carried (and only then).', errors: [{ path: '/body/code_verifier', message: 'does not match' }] });
    }
    return grant;
  }

  /** The fast-path store out of reach is a 503: no flow can start or finish without it. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new DependencyUnavailableError('fast-path store', err);
    }
  }
}

const invalidCode = () => new AppError('oauth_code_invalid', { detail: 'This code is unknown, already used or expired: sign in again.' });
