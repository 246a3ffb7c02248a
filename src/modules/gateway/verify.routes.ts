import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { jwtFormat, malformedToken } from '../../http/authenticate.js';
import { assignRequestId } from '../../http/request-id.js';
import type { Sessions } from '../../identity/sessions/sessions.js';
import type { Metrics } from '../../infra/metrics.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { VerifiedTokenCache } from './verified-token-cache.js';
import { assertJsonBody, tokenOf } from './verify-request.js';

export const verifyPath = '/api/v1/auth/verify';

export interface VerifyRoutesDeps {
  signatures: VerifiedTokenCache;
  sessions: Pick<Sessions, 'assertLive'>;
  metrics: Pick<Metrics, 'httpDuration'>;
  bodyLimit: string;
}

/**
 * Signature, issuer, audience and expiry, then the session must be live (revoked, expired,
 * deleted or suspended → 401). A suspended account is 403 elsewhere; here the contract's only
 * refusal is 401 (what a gateway turns into "log in again"), so it counts as a revoked session.
 */
async function verifyLive(deps: VerifyRoutesDeps, token: string): Promise<VerifiedAccessToken> {
  // Only an access token (a JWS) is verified here; any other bearer credential is not one.
  if (!jwtFormat.test(token)) throw malformedToken();
  const claims = await deps.signatures.verify(token);
  try {
    await deps.sessions.assertLive(claims);
  } catch (err) {
    if (err instanceof AppError && err.code === 'account_suspended') throw new AppError('session_revoked', { detail: 'This account is suspended.' });
    throw err;
  }
  return claims;
}

/** The `VerifiedToken` body: the claims a gateway may rely on, nothing more. */
function verifiedToken(t: VerifiedAccessToken) {
  return {
    active: true as const,
    sub: t.sub,
    sid: t.sid,
    jti: t.jti,
    actor_type: t.actor_type,
    amr: t.amr,
    roles: t.roles,
    permissions: t.permissions,
    status: t.status,
    plan: t.plan,
    is_guest: t.is_guest,
    ...(t.device_id !== undefined && { device_id: t.device_id }),
    ...(t.org_id !== undefined && { org_id: t.org_id }),
    ...(t.act !== undefined && { act: t.act }),
    iat: t.iat,
    exp: t.exp,
  };
}

/** Written straight to the socket: no ETag to hash (the answer is no-store), nothing to negotiate. */
function send(res: Response, t: VerifiedAccessToken): void {
  const body = JSON.stringify(verifiedToken(t));
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-User-Id': t.sub,
    'X-Status': t.status,
    'X-Is-Guest': t.is_guest ? 'true' : 'false',
    'X-Permissions': t.permissions.join(','),
    'X-Roles': t.roles.join(','),
    'X-Plan': t.plan,
    'X-Actor-Type': t.actor_type,
    'X-Session-Id': t.sid,
  });
  res.end(body);
}

/**
 * Token verification for gateways (README "Protect your API", spec tag `gateway`): nginx auth_request, Traefik ForwardAuth, Envoy.
 * It runs on every proxied request, so app.ts mounts it first, ahead of the request logger
 * (a child logger per request), helmet, CORS, the body parser and the OpenAPI validator; it
 * therefore gives itself the request id and the duration metric, and checks its own input.
 * Errors go to the problem handler, which adds WWW-Authenticate to 401s. Other methods on the
 * path fall through to the validator (405).
 */
export function verifyRoutes(deps: VerifyRoutesDeps): RequestHandler {
  const json = express.json({ limit: deps.bodyLimit });

  const verify = async (req: Request, res: Response) => {
    send(res, await verifyLive(deps, tokenOf(req)));
  };

  return (req: Request, res: Response, next: NextFunction) => {
    const query = req.url.indexOf('?');
    if ((query === -1 ? req.url : req.url.slice(0, query)) !== verifyPath || (req.method !== 'GET' && req.method !== 'POST')) return next();
    req.id = assignRequestId(req, res);
    const end = deps.metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => end({ route: verifyPath, status: String(res.statusCode) }));
    if (req.method === 'GET') return void verify(req, res).catch(next);
    try {
      assertJsonBody(req);
    } catch (err) {
      return next(err);
    }
    json(req, res, (err?: unknown) => (err ? next(err) : void verify(req, res).catch(next)));
  };
}
