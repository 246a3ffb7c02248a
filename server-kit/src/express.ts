import type { IncomingMessage, ServerResponse } from 'node:http';
import { problemOf, refusalHeaders, SesameAuthError } from './errors.js';
import { hasPermission } from './permissions.js';
import type { SesameAuth, SesameVerifier } from './verifier.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified caller, set by `sesameAuth()`. */
      sesame?: SesameAuth;
    }
  }
}

type Req = IncomingMessage & { sesame?: SesameAuth; originalUrl?: string };
type Next = (err?: unknown) => void;
/** A Connect/Express middleware (also usable with a bare node:http server). */
export type Middleware = (req: Req, res: ServerResponse, next: Next) => void;

/** Answers a refusal as problem+json (with the bearer challenge on 401). */
export function sendRefusal(req: Req, res: ServerResponse, error: SesameAuthError): void {
  const instance = (req.originalUrl ?? req.url ?? '/').split('?')[0];
  res.writeHead(error.status, refusalHeaders(error));
  res.end(JSON.stringify(problemOf(error, instance)));
}

/**
 * Verifies the bearer token and puts the caller on `req.sesame`; refuses with 401 (or 503 when
 * Sésame's keys or live check cannot be reached). `optional: true` lets requests without any
 * token through anonymously; a bad token is still refused.
 */
export function sesameAuth(verifier: SesameVerifier, options: { optional?: boolean } = {}): Middleware {
  return (req, res, next) => {
    verifier.authenticate(req.headers.authorization).then(
      (auth) => {
        req.sesame = auth;
        next();
      },
      (err: unknown) => {
        if (!(err instanceof SesameAuthError)) return next(err);
        if (options.optional && err.code === 'authentication_required') return next();
        sendRefusal(req, res, err);
      },
    );
  };
}

/** After `sesameAuth()`: 401 without a caller, 403 `permission_denied` unless the token grants every permission named. */
export function requirePermission(...required: string[]): Middleware {
  if (!required.length) throw new TypeError('requirePermission needs at least one permission');
  return (req, res, next) => {
    if (!req.sesame) return sendRefusal(req, res, new SesameAuthError('authentication_required', 'A bearer access token is required.'));
    const missing = required.filter((p) => !hasPermission(req.sesame, p));
    if (missing.length) return sendRefusal(req, res, new SesameAuthError('permission_denied', `This requires the permission ${missing.join(', ')}.`));
    next();
  };
}
