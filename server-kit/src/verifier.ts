import { errors, jwtVerify, type JWTPayload } from 'jose';
import { SesameAuthError } from './errors.js';
import { clockedRemoteJwks, type Clock } from './jwks.js';
import { LiveCheck } from './live-check.js';

/** The caller, as the kit puts it on the request (`req.sesame`) and in the GraphQL context. */
export interface SesameAuth {
  user: { id: string; status: string; is_guest: boolean; roles: string[]; plan: string };
  session: { id: string; amr: string[]; issued_at: Date; expires_at: Date; device_id: string | null; impersonator: string | null };
  actor_type: string;
  organization: { id: string; role: string | null } | null;
  /** As of the token's issue (grants made or revoked since show at the next refresh). */
  permissions: string[];
  /** The verified access token, to call Sésame or another service on the user's behalf. */
  token: string;
  claims: JWTPayload;
}

export interface SesameVerifierOptions {
  /** Sésame's base URL: keys from `/.well-known/jwks.json`, live checks at `/api/v1/auth/verify`. */
  url: string;
  /** Expected `iss`: Sésame's JWT_ISSUER (by default its PUBLIC_URL). Defaults to `url`. */
  issuer?: string;
  /** Expected `aud`: Sésame's JWT_AUDIENCE. Default `sesame`. */
  audience?: string;
  /** Also ask Sésame whether the session is live (instant revocation); `cacheSeconds` (0–30, default 0) reuses a yes. */
  live?: boolean | { cacheSeconds?: number };
  /** Accepted difference between the clocks of Sésame and this service, in seconds (0–60, default 5). */
  clockToleranceSeconds?: number;
  /** How long fetched signing keys are used (default 300 s, Sésame's JWKS max-age) and how often an unknown kid may refetch them (default 10 s). */
  jwks?: { cacheSeconds?: number; cooldownSeconds?: number };
  /** Time limit of each call to Sésame (default 3000 ms). */
  timeoutMs?: number;
  clock?: Clock;
  fetch?: typeof fetch;
}

export interface SesameVerifier {
  /** Verifies an access token; throws a SesameAuthError (401 or 503) otherwise. */
  verify(token: string): Promise<SesameAuth>;
  /** As verify, from an `Authorization` header value (missing → 401 authentication_required). */
  authenticate(authorization: string | null | undefined): Promise<SesameAuth>;
}

const maxClockToleranceSeconds = 60;
const bearer = /^Bearer\s+(\S+)\s*$/i;
const systemClock: Clock = { now: () => new Date() };

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
const stringOr = <T>(value: unknown, fallback: T): string | T => (typeof value === 'string' ? value : fallback);

function authOf(token: string, claims: JWTPayload): SesameAuth {
  const c = claims as Record<string, unknown>;
  const act = c.act as { sub?: unknown } | undefined;
  return {
    user: { id: claims.sub!, status: stringOr(c.status, 'active'), is_guest: c.is_guest === true, roles: strings(c.roles), plan: stringOr(c.plan, 'free') },
    session: {
      id: c.sid as string,
      amr: strings(c.amr),
      issued_at: new Date(claims.iat! * 1000),
      expires_at: new Date(claims.exp! * 1000),
      device_id: stringOr(c.device_id, null),
      impersonator: stringOr(act?.sub, null),
    },
    actor_type: stringOr(c.actor_type, ''),
    organization: typeof c.org_id === 'string' ? { id: c.org_id, role: stringOr(c.org_role, null) } : null,
    permissions: strings(c.permissions),
    token,
    claims,
  };
}

/**
 * Verifies Sésame access tokens locally with the JWKS: ES256 only, `iss`, `aud` and `exp`
 * checked with a bounded clock tolerance; optionally confirms with Sésame that the session is live.
 */
export function createSesameVerifier(options: SesameVerifierOptions): SesameVerifier {
  const base = options.url.replace(/\/+$/, '');
  const clock = options.clock ?? systemClock;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 3000;
  const clockTolerance = options.clockToleranceSeconds ?? 5;
  if (!(clockTolerance >= 0 && clockTolerance <= maxClockToleranceSeconds)) throw new TypeError(`clockToleranceSeconds must be between 0 and ${maxClockToleranceSeconds}`);
  const issuer = options.issuer ?? base;
  const audience = options.audience ?? 'sesame';
  const keys = clockedRemoteJwks(new URL(`${base}/.well-known/jwks.json`), {
    clock,
    cacheMaxAgeMs: (options.jwks?.cacheSeconds ?? 300) * 1000,
    cooldownMs: (options.jwks?.cooldownSeconds ?? 10) * 1000,
    timeoutMs,
    fetch: fetchImpl,
  });
  const live = options.live ? new LiveCheck(`${base}/api/v1/auth/verify`, { cacheSeconds: options.live === true ? 0 : (options.live.cacheSeconds ?? 0), timeoutMs, clock, fetch: fetchImpl }) : undefined;

  const verify = async (token: string): Promise<SesameAuth> => {
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        algorithms: ['ES256'],
        issuer,
        audience,
        clockTolerance,
        currentDate: clock.now(),
        requiredClaims: ['sub', 'sid', 'iat', 'exp'],
      }));
    } catch (err) {
      if (err instanceof SesameAuthError) throw err;
      if (err instanceof errors.JWTExpired) throw new SesameAuthError('token_expired', 'The access token has expired.');
      throw new SesameAuthError('invalid_token', 'The access token is not a valid Sésame token for this service.', { cause: err });
    }
    if (typeof (claims as { sid?: unknown }).sid !== 'string') throw new SesameAuthError('invalid_token', 'The access token names no session.');
    await live?.assertLive(token, claims.exp! * 1000);
    return authOf(token, claims);
  };

  return {
    verify,
    authenticate: async (authorization) => {
      const match = authorization ? bearer.exec(authorization) : null;
      if (!match) throw new SesameAuthError('authentication_required', 'A bearer access token is required.');
      return verify(match[1]!);
    },
  };
}
