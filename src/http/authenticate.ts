import type { Request } from 'express';
import type { Logger } from 'pino';
import type { Sessions } from '../identity/sessions/sessions.js';
import type { AccessTokens, VerifiedAccessToken } from '../infra/tokens.js';
import { AppError } from '../shared/errors.js';
import { recordAuthFailure, toAppError } from '../shared/problem.js';

/**
 * Who a request's credential names: a session (a verified access token whose session is live),
 * or the bearer of an `mfa_setup_required` login's `mfa_token`, who must enrol TOTP before the
 * login can finish (good for `/2fa/enable` and `/2fa/enable/confirm` only).
 */
export type Principal = { kind: 'session'; token: VerifiedAccessToken } | { kind: 'mfa_setup'; userId: string; challengeId: string };

/** Turns one kind of credential into its principal; throws a 401 AppError when it is not valid. */
export interface CredentialResolver {
  readonly name: string;
  /** The credential's declared format: a credential goes to the resolver whose format it matches. */
  readonly format: RegExp;
  resolve(credential: string): Promise<Principal>;
}

/** Where a security scheme of the spec reads its credential, and who resolves it. */
export interface CredentialScheme {
  /** The name of the spec's security scheme (`bearerAuth`). */
  name: string;
  /** The credential, or undefined when the request carries none. */
  read(req: Request): string | undefined;
  /** The answer to a request without the credential. */
  missing: () => AppError;
  resolvers: CredentialResolver[];
}

/** Who may enrol TOTP: a full session, or the restricted setup principal (then `setupChallengeId` is set). */
export interface Enrolment {
  userId: string;
  setupChallengeId?: string;
}

/** A compact JWS (header.payload.signature), the format of Sésame's access tokens. */
export const jwtFormat = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const bearerPattern = /^Bearer\s+(\S+)\s*$/i;
const principalKey = Symbol('principal');

export const malformedToken = () => new AppError('invalid_token', { detail: 'The access token is malformed or not signed by Sésame.' });

/** The `Authorization: Bearer` credential, or undefined. */
export function bearerCredential(req: Request): string | undefined {
  const header = req.get('authorization');
  return header === undefined ? undefined : (bearerPattern.exec(header)?.[1] ?? undefined);
}

/** Access tokens: signature, issuer, audience and expiry, then the session must be live on every instance. */
export function accessTokenResolver(deps: { tokens: AccessTokens; sessions: Pick<Sessions, 'assertLive'> }): CredentialResolver {
  return {
    name: 'access_token',
    format: jwtFormat,
    async resolve(credential) {
      const token = await deps.tokens.verify(credential);
      await deps.sessions.assertLive(token);
      return { kind: 'session', token };
    },
  };
}

/** The `bearerAuth` scheme: `Authorization: Bearer <credential>`, resolved by format. */
export function bearerScheme(resolvers: CredentialResolver[]): CredentialScheme {
  return {
    name: 'bearerAuth',
    read: bearerCredential,
    missing: () => new AppError('authentication_required', { detail: 'A bearer access token is required.' }),
    resolvers,
  };
}

function principalOf(req: Request): Principal {
  const principal = (req as unknown as Record<symbol, Principal | undefined>)[principalKey];
  if (!principal) throw new AppError('authentication_required');
  return principal;
}

/** The signed-in user of the request, if its credential has been resolved. */
export function authenticatedUserId(req: Request): string | undefined {
  const principal = (req as unknown as Record<symbol, Principal | undefined>)[principalKey];
  if (!principal) return undefined;
  return principal.kind === 'session' ? principal.token.sub : principal.userId;
}

/** The verified access token of the request; only on operations the spec secures. */
export function requireAuth(req: Request): VerifiedAccessToken {
  const principal = principalOf(req);
  if (principal.kind !== 'session') throw new AppError('mfa_setup_required', { detail: 'Enrol two-factor authentication first: this token is good for nothing else.' });
  return principal.token;
}

/** The session's access token once its credential is resolved, or undefined (no session, or not resolved). */
export function sessionTokenOf(req: Request): VerifiedAccessToken | undefined {
  const principal = (req as unknown as Record<symbol, Principal | undefined>)[principalKey];
  return principal?.kind === 'session' ? principal.token : undefined;
}

function refuseImpersonation(token: VerifiedAccessToken): void {
  if (token.act) throw new AppError('impersonation_forbidden', { detail: "Under an impersonation, the account's password, email and second factor cannot change." });
}

/**
 * requireAuth for what only the account's owner may do (password, email, second factor, API
 * keys, switching actor): a session an administrator opened as the user is refused with 403
 * `impersonation_forbidden` (README "Administration").
 */
export function requireOwnSession(req: Request): VerifiedAccessToken {
  const token = requireAuth(req);
  refuseImpersonation(token);
  return token;
}

/** The user enrolling TOTP: the only operations that also accept the restricted setup token. Never under an impersonation. */
export function requireEnrolment(req: Request): Enrolment {
  const principal = principalOf(req);
  if (principal.kind === 'mfa_setup') return { userId: principal.userId, setupChallengeId: principal.challengeId };
  refuseImpersonation(principal.token);
  return { userId: principal.token.sub };
}

/**
 * The validator's security handlers, one per scheme: the credential goes to the resolver whose
 * declared format it matches (a credential of no known format is an invalid token), and the
 * principal is kept on the request for requireAuth / requireEnrolment.
 */
export function securityHandlers(schemes: CredentialScheme[], logger: Logger): Record<string, (req: Request) => Promise<boolean>> {
  return Object.fromEntries(
    schemes.map((scheme) => [
      scheme.name,
      async (req: Request): Promise<boolean> => {
        try {
          const credential = scheme.read(req);
          if (credential === undefined) throw scheme.missing();
          const resolver = scheme.resolvers.find((r) => r.format.test(credential));
          if (!resolver) throw malformedToken();
          (req as unknown as Record<symbol, Principal>)[principalKey] = await resolver.resolve(credential);
          return true;
        } catch (err) {
          const { error, unexpected } = toAppError(err, req);
          if (unexpected) logger.error({ err }, 'authentication failed unexpectedly');
          recordAuthFailure(req, error);
          throw Object.assign(new Error(error.message), { status: error.status });
        }
      },
    ]),
  );
}
