import type { Request } from 'express';
import type { Logger } from 'pino';
import type { AccessTokens, VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import { recordAuthFailure, toAppError } from '../../shared/problem.js';
import type { Sessions } from '../sessions/sessions.service.js';

const authKey = Symbol('auth');

/** The verified access token of the request; only on operations the spec secures. */
export function requireAuth(req: Request): VerifiedAccessToken {
  const auth = (req as unknown as Record<symbol, VerifiedAccessToken | undefined>)[authKey];
  if (!auth) throw new AppError('authentication_required');
  return auth;
}

/**
 * The validator's handler for `bearerAuth`: signature, issuer, audience and expiry, then the
 * session must be live (a revoked session is refused at once on every instance).
 */
export function bearerAuthHandler(tokens: AccessTokens, sessions: Sessions, logger: Logger) {
  return async (req: Request): Promise<boolean> => {
    try {
      const header = req.get('authorization') ?? '';
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw new AppError('authentication_required', { detail: 'A bearer access token is required.' });
      const claims = await tokens.verify(match[1]!);
      await sessions.assertLive(claims);
      (req as unknown as Record<symbol, VerifiedAccessToken>)[authKey] = claims;
      return true;
    } catch (err) {
      const { error, unexpected } = toAppError(err, req);
      if (unexpected) logger.error({ err }, 'bearer authentication failed unexpectedly');
      recordAuthFailure(req, error);
      throw Object.assign(new Error(error.message), { status: error.status });
    }
  };
}
