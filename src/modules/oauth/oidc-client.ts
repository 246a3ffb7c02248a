import { importJWK, type JWK } from 'jose';
import * as client from 'openid-client';
import type { OidcProviderConfig } from '../../config/oauth-config.js';
import type { AuthMethod } from '../../identity/auth-method.js';
import { assertsVerified, claimEmail, claimText, ProviderAnswerError, type ExternalProfile, type ExternalProvider, type PendingAuthorization } from './providers.js';

/**
 * Any OpenID Connect provider, found by issuer discovery (openid-client). The authorization
 * answer is checked by openid-client: `iss` (RFC 9207, required when the provider advertises
 * it), `state`, the code exchange with PKCE, the ID token's signature, issuer, audience, expiry
 * and `nonce`. With a decryption key, encrypted ID tokens and userinfo are accepted
 * (FranceConnect+). The discovered metadata and keys are kept per process; a failed discovery is
 * tried again at the next sign-in.
 */
export class OidcProvider implements ExternalProvider {
  readonly id: string;
  readonly name: string;
  readonly type = 'oidc' as const;
  readonly method: AuthMethod;
  readonly issuer: string;
  private discovered?: Promise<client.Configuration>;

  constructor(private readonly config: OidcProviderConfig) {
    this.id = config.id;
    this.name = config.name;
    this.method = `oidc:${config.id}`;
    this.issuer = config.issuer;
  }

  private configuration(): Promise<client.Configuration> {
    this.discovered ??= this.discover().catch((err: unknown) => {
      this.discovered = undefined;
      throw new ProviderAnswerError('oauth_provider_error', `discovery of ${this.config.issuer} failed`, { cause: err });
    });
    return this.discovered;
  }

  private async discover(): Promise<client.Configuration> {
    // Configuration validation accepted http only for a loopback issuer outside production.
    const insecure = new URL(this.config.issuer).protocol === 'http:';
    const configuration = await client.discovery(new URL(this.config.issuer), this.config.clientId, this.config.clientSecret, undefined, {
      execute: insecure ? [client.allowInsecureRequests] : [],
      timeout: 10,
    });
    if (this.config.decryptionKey) {
      const jwk = this.config.decryptionKey as JWK;
      const key = (await importJWK(jwk, jwk.alg)) as CryptoKey;
      client.enableDecryptingResponses(configuration, undefined, { key, alg: jwk.alg, kid: jwk.kid });
    }
    return configuration;
  }

  async authorizationUrl(request: Omit<PendingAuthorization, 'codeVerifier'>): Promise<{ url: string; codeVerifier: string }> {
    const configuration = await this.configuration();
    const codeVerifier = client.randomPKCECodeVerifier();
    const parameters: Record<string, string> = {
      redirect_uri: request.callbackUrl,
      scope: this.config.scopes,
      state: request.state,
      nonce: request.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    };
    if (this.config.acrValues) parameters.acr_values = this.config.acrValues.join(' ');
    return { url: client.buildAuthorizationUrl(configuration, parameters).href, codeVerifier };
  }

  async identify(response: URLSearchParams, pending: PendingAuthorization): Promise<ExternalProfile> {
    const configuration = await this.configuration();
    const currentUrl = new URL(pending.callbackUrl);
    for (const name of ['code', 'state', 'iss', 'session_state']) {
      const value = response.get(name);
      if (value !== null) currentUrl.searchParams.set(name, value);
    }
    try {
      const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims()!;
      if (this.config.acrValues && !this.config.acrValues.includes(String(idToken.acr))) {
        throw new ProviderAnswerError('oauth_callback_invalid', `the ID token's acr is not one of ${this.config.acrValues.join(', ')}`);
      }
      let claims: Record<string, unknown> = idToken;
      // Providers such as FranceConnect give the email and names at the userinfo endpoint only.
      if (configuration.serverMetadata().userinfo_endpoint && (idToken.email === undefined || idToken.given_name === undefined)) {
        const userinfo = await client.fetchUserInfo(configuration, tokens.access_token, idToken.sub);
        claims = { ...userinfo, ...idToken };
      }
      return {
        subject: idToken.sub,
        email: claimEmail(claims.email),
        emailVerified: assertsVerified(claims.email_verified),
        givenName: claimText(claims.given_name, 100),
        familyName: claimText(claims.family_name, 100),
        displayName: claimText(claims.name, 200),
      };
    } catch (err) {
      if (err instanceof ProviderAnswerError) throw err;
      // openid-client's checks (OAUTH_* codes: iss, state, nonce, signature, a refused code) reject a forged or replayed answer.
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('OAUTH_')) throw new ProviderAnswerError('oauth_callback_invalid', `the answer failed a check (${code})`, { cause: err });
      throw new ProviderAnswerError('oauth_provider_error', 'the provider could not complete the sign-in', { cause: err });
    }
  }
}
