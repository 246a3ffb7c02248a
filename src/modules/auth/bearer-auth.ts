import type { Request } from 'express';
import type { Logger } from 'pino';
import type { AccessTokens, VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import { recordAuthFailure, toAppError } from '../../shared/problem.js';
import type { Sessions } from '../sessions/sessions.service.js';

const authKey = Symbol('auth');

/**
 * The bearer of an `mfa_setup_required` login's `mfa_token`: a user who must enrol TOTP before
 * the login can finish. Good for `/2fa/enable` and `/2fa/enable/confirm` only.
 */
export interface RestrictedPrincipal {
  userId: string;
  challengeId: string;
}

/** Who may enrol TOTP: a full session, or a restricted principal (then `setupChallengeId` is set). */
export interface Enrolment {
  userId: string;
  setupChallengeId?: string;
}

/** Finds the restricted principal of an opaque setup token (undefined: not a live setup token). */
export interface SetupTokens {
  setupPrincipal(token: string): Promise<RestrictedPrincipal | undefined>;
}

type Principal = VerifiedAccessToken | RestrictedPrincipal;

function principalOf(req: Request): Principal {
  const auth = (req as unknown as Record<symbol, Principal | undefined>)[authKey];
  if (!auth) throw new AppError('authentication_required');
  return auth;
}

function isRestricted(auth: Principal): auth is RestrictedPrincipal {
  return 'challengeId' in auth;
}

/** The verified access token of the request; only on operations the spec secures. */
export function requireAuth(req: Request): VerifiedAccessToken {
  const auth = principalOf(req);
  if (isRestricted(auth)) throw new AppError('mfa_setup_required', { detail: 'Enrol two-factor authentication first: this token is good for nothing else.' });
  return auth;
}

/** The user enrolling TOTP: the only operations that also accept the restricted setup token. */
export function requireEnrolment(req: Request): Enrolment {
  const auth = principalOf(req);
  return isRestricted(auth) ? { userId: auth.userId, setupChallengeId: auth.challengeId } : { userId: auth.sub };
}

/**
 * The validator's handler for `bearerAuth`: signature, issuer, audience and expiry, then the
 * session must be live (a revoked session is refused at once on every instance). A token
 * without a dot is no JWT: it may only be a live setup `mfa_token` (a restricted principal).
 */
export function bearerAuthHandler(tokens: AccessTokens, sessions: Sessions, setupTokens: SetupTokens, logger: Logger) {
  return async (req: Request): Promise<boolean> => {
    try {
      const header = req.get('authorization') ?? '';
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw new AppError('authentication_required', { detail: 'A bearer access token is required.' });
      const token = match[1]!;
      (req as unknown as Record<symbol, Principal>)[authKey] = token.includes('.') ? await accessClaims(tokens, sessions, token) : await restrictedPrincipal(setupTokens, token);
      return true;
    } catch (err) {
      const { error, unexpected } = toAppError(err, req);
      if (unexpected) logger.error({ err }, 'bearer authentication failed unexpectedly');
      recordAuthFailure(req, error);
      throw Object.assign(new Error(error.message), { status: error.status });
    }
  };
}

async function accessClaims(tokens: AccessTokens, sessions: Sessions, token: string): Promise<VerifiedAccessToken> {
  const claims = await tokens.verify(token);
  await sessions.assertLive(claims);
  return claims;
}

async function restrictedPrincipal(setupTokens: SetupTokens, token: string): Promise<RestrictedPrincipal> {
  const principal = await setupTokens.setupPrincipal(token);
  if (!principal) throw new AppError('invalid_token', { detail: 'The access token is malformed or not signed by Sésame.' });
  return principal;
}
