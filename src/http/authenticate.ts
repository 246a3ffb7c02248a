import type { Request } from 'express';
import type { Logger } from 'pino';
import type { Caller } from '../identity/caller.js';
import type { OrgRole } from '../identity/org-roles.js';
import type { Sessions } from '../identity/sessions/sessions.js';
import type { AccessTokens, VerifiedAccessToken } from '../infra/tokens.js';
import { AppError } from '../shared/errors.js';
import { recordAuthFailure, toAppError } from '../shared/problem.js';

/** A live API key, as its resolver finds it at this request (README "API keys"). */
export interface ApiKeyPrincipal {
  keyId: string;
  /** The key's owner, who created it. */
  userId: string;
  status: string;
  isGuest: boolean;
  /** An organization key's organization and its owner's role there now; null for a personal key. */
  organization: { id: string; role: OrgRole } | null;
  /** The key's own permissions ∩ its owner's current ones. */
  permissions: string[];
  expiresAt: Date | null;
}

/**
 * Who a request's credential names: a session (a verified access token whose session is live),
 * the bearer of an
 * `mfa_setup_required` login's `mfa_token`, who must enrol TOTP before the login can finish
 * (good for `/2fa/enable` and `/2fa/enable/confirm` only), an API key (`X-API-Key`, on the
 * operations whose security lists `apiKeyAuth`), or the bearer of a credential bound to one
 * resource (a QR challenge's poll token), good for that resource only.
 */
export type Principal =
  | { kind: 'session'; token: VerifiedAccessToken }
  | { kind: 'mfa_setup'; userId: string; challengeId: string }
  | { kind: 'api_key'; key: ApiKeyPrincipal }
  | { kind: 'bound'; resource: string; id: string };

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
  /** The answer to a credential of no resolver's format (default: `invalid_token`). */
  malformed?: () => AppError;
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

/** The `apiKeyAuth` scheme: `X-API-Key: <key>`, resolved by format. */
export function apiKeyScheme(resolvers: CredentialResolver[]): CredentialScheme {
  return {
    name: 'apiKeyAuth',
    read: apiKeyCredential,
    missing: () => new AppError('authentication_required', { detail: 'An API key (X-API-Key) or a bearer access token is required.' }),
    malformed: () => new AppError('invalid_api_key', { detail: 'This is not a Sésame API key.' }),
    resolvers,
  };
}

/** The `X-API-Key` credential, or undefined. */
export function apiKeyCredential(req: Request): string | undefined {
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header !== '' ? header : undefined;
}

function storedPrincipal(req: Request): Principal | undefined {
  return (req as unknown as Record<symbol, Principal | undefined>)[principalKey];
}

/** Keeps the principal a resolver found on the request (the gateway route resolves its own). */
export function rememberPrincipal(req: Request, principal: Principal): void {
  (req as unknown as Record<symbol, Principal>)[principalKey] = principal;
}

function principalOf(req: Request): Principal {
  const principal = storedPrincipal(req);
  if (!principal) throw new AppError('authentication_required');
  return principal;
}

/** The signed-in user of the request (an API key's owner), if its credential has been resolved. */
export function authenticatedUserId(req: Request): string | undefined {
  const principal = storedPrincipal(req);
  if (!principal || principal.kind === 'bound') return undefined;
  if (principal.kind === 'session') return principal.token.sub;
  return principal.kind === 'api_key' ? principal.key.userId : principal.userId;
}

/** The API key that authenticated the request, if one did (its own rate limit counts by it). */
export function authenticatedApiKeyId(req: Request): string | undefined {
  const principal = storedPrincipal(req);
  return principal?.kind === 'api_key' ? principal.key.keyId : undefined;
}

/** The verified access token of the request; only on operations the spec secures with bearerAuth alone. */
export function requireAuth(req: Request): VerifiedAccessToken {
  const principal = principalOf(req);
  if (principal.kind === 'api_key') throw new AppError('authentication_required', { detail: 'This operation needs a bearer access token, not an API key.' });
  if (principal.kind === 'mfa_setup') throw new AppError('mfa_setup_required', { detail: 'Enrol two-factor authentication first: this token is good for nothing else.' });
  if (principal.kind !== 'session') throw malformedToken();
  return principal.token;
}

/** The id of the resource the request's bound credential is good for (a QR challenge's poll token). */
export function requireBound(req: Request, resource: string): string {
  const principal = principalOf(req);
  if (principal.kind !== 'bound' || principal.resource !== resource) throw malformedToken();
  return principal.id;
}

/** The caller of an operation that accepts a session or an API key. */
export function requireCaller(req: Request): Caller {
  const principal = principalOf(req);
  if (principal.kind === 'api_key') {
    const { key } = principal;
    return { userId: key.userId, organizationId: key.organization?.id, apiKey: { id: key.keyId, permissions: key.permissions } };
  }
  // The token's organization as it claims it: checks in it read the membership live.
  const token = requireAuth(req);
  return { userId: token.sub, sessionId: token.sid, organizationId: token.org_id };
}

/** The session's access token once its credential is resolved, or undefined (no session, or not resolved). */
export function sessionTokenOf(req: Request): VerifiedAccessToken | undefined {
  const principal = storedPrincipal(req);
  return principal?.kind === 'session' ? principal.token : undefined;
}

function refuseImpersonation(token: VerifiedAccessToken): void {
  if (token.act) throw new AppError('impersonation_forbidden', { detail: "Under an impersonation, the account's credentials and anyone's privileges cannot change." });
}

/**
 * requireAuth for what only the account's owner may do (password, email, phone, second factor,
 * linked identities, API keys, switching actor) and for what changes privileges (roles,
 * permissions, actor types, other users): a session an administrator opened as the user is
 * refused with 403 `impersonation_forbidden` (README "Administration").
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
  const token = requireAuth(req);
  refuseImpersonation(token);
  return { userId: token.sub };
}

/** The schemes an operation accepts (its `security`), in its order. */
function acceptedSchemes(req: Request, schemes: CredentialScheme[]): CredentialScheme[] {
  const security = (req as { openapi?: { schema?: { security?: Array<Record<string, unknown>> } } }).openapi?.schema?.security ?? [];
  return security.flatMap((requirement) => Object.keys(requirement)).flatMap((name) => schemes.filter((s) => s.name === name));
}

/**
 * Which scheme answers for the request's credential, when an operation accepts several. A
 * request carries one credential (the SDK sends the same one under each accepted scheme): two
 * different ones are ambiguous. It goes to the first scheme with a resolver of its format, else
 * to the first scheme that carries it, whose refusal is the answer. The validator runs every
 * scheme's handler at once: this choice makes exactly one of them decide.
 */
function assign(req: Request, accepted: CredentialScheme[]): CredentialScheme | 'ambiguous' | undefined {
  const carried = accepted.flatMap((scheme) => {
    const credential = scheme.read(req);
    return credential === undefined ? [] : [{ scheme, credential }];
  });
  if (new Set(carried.map((c) => c.credential)).size > 1) return 'ambiguous';
  const byFormat = carried.find((c) => c.scheme.resolvers.some((r) => r.format.test(c.credential)));
  return (byFormat ?? carried[0])?.scheme;
}

/**
 * The validator's security handlers, one per scheme: the credential goes to the resolver whose
 * declared format it matches (a credential of no known format is an invalid token), and the
 * principal is kept on the request for requireAuth / requireEnrolment / requireCaller.
 */
export function securityHandlers(schemes: CredentialScheme[], logger: Logger): Record<string, (req: Request) => Promise<boolean>> {
  return Object.fromEntries(
    schemes.map((scheme) => [
      scheme.name,
      async (req: Request): Promise<boolean> => {
        try {
          const accepted = acceptedSchemes(req, schemes);
          const assigned = accepted.length > 1 ? assign(req, accepted) : undefined;
          if (assigned === 'ambiguous') throw new AppError('ambiguous_credentials', { detail: 'Send one credential: an API key (X-API-Key) or a bearer access token, not both.' });
          // Another scheme answers for this credential: this one stays out of the decision.
          if (assigned && assigned !== scheme) return false;
          const credential = scheme.read(req);
          if (credential === undefined) throw scheme.missing();
          const resolver = scheme.resolvers.find((r) => r.format.test(credential));
          if (!resolver) throw (scheme.malformed ?? malformedToken)();
          rememberPrincipal(req, await resolver.resolve(credential));
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
