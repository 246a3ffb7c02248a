import type { AuthMethod } from '../../identity/auth-method.js';

export type ProviderType = 'google' | 'github' | 'oidc';

/** What a flow remembers for the provider's answer: the values its request carried. */
export interface PendingAuthorization {
  state: string;
  nonce: string;
  codeVerifier: string;
  callbackUrl: string;
}

/** Who the provider says signed in. */
export interface ExternalProfile {
  subject: string;
  email: string | null;
  /** Only an explicit assertion counts (OIDC/Google `email_verified`, GitHub's verified primary address). */
  emailVerified: boolean;
  givenName?: string;
  familyName?: string;
  displayName?: string;
}

/** Why a provider's answer is refused: the `?error=` code the browser is sent back with. */
export class ProviderAnswerError extends Error {
  constructor(
    readonly code: 'oauth_callback_invalid' | 'oauth_provider_error' | 'oauth_access_denied',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'ProviderAnswerError';
  }
}

/**
 * One external sign-in provider: builds the authorization request of a flow and verifies the
 * answer to it (code exchange with PKCE; for OpenID Connect the ID token and its nonce). Provider
 * tokens are used for that and dropped.
 */
export interface ExternalProvider {
  /** The `{provider}` of the routes. */
  readonly id: string;
  readonly name: string;
  readonly type: ProviderType;
  /** The sign-in method actor-type policies name (`google`, `github`, `oidc:<id>`). */
  readonly method: AuthMethod;
  /** The issuer identifier: half of an identity's key, and the RFC 9207 `iss` the answer must carry when it carries one. */
  readonly issuer: string;
  authorizationUrl(request: Omit<PendingAuthorization, 'codeVerifier'>): Promise<{ url: string; codeVerifier: string }>;
  /** Verifies the authorization response (the callback's query) and says who signed in; throws ProviderAnswerError. */
  identify(response: URLSearchParams, pending: PendingAuthorization): Promise<ExternalProfile>;
}

/** An `email_verified` claim: true, or the string "true" some providers send. */
export function assertsVerified(claim: unknown): boolean {
  return claim === true || claim === 'true';
}

/** A string claim, trimmed and cut to `max` characters; undefined when absent or empty. */
export function claimText(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.replace(/[\x00-\x1F\x7F]/g, '').trim().slice(0, max);
  return text || undefined;
}

/** An email claim: one address of at most 254 characters (never cut short: a cut address is another address). */
export function claimEmail(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const email = value.trim();
  return email.length <= 254 && /^[^\s@\x00-\x1F\x7F]+@[^\s@\x00-\x1F\x7F]+$/.test(email) ? email : null;
}

/** Each provider's own callback (registered with the provider): `{PUBLIC_URL}/api/v1/auth/oauth/{provider}/callback`. */
export function callbackUrlFor(publicUrl: string, providerId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/api/v1/auth/oauth/${providerId}/callback`;
}
