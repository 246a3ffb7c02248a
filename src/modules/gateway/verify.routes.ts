import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { jwtFormat, malformedToken, rememberPrincipal, type ApiKeyPrincipal, type CredentialScheme } from '../../http/authenticate.js';
import { assignRequestId } from '../../http/request-id.js';
import type { LiveSession, Sessions } from '../../identity/sessions/sessions.js';
import type { Metrics } from '../../infra/metrics.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { VerifiedTokenCache } from './verified-token-cache.js';
import { assertJsonBody, credentialOf } from './verify-request.js';

export const verifyPath = '/api/v1/auth/verify';

export interface VerifyRoutesDeps {
  signatures: VerifiedTokenCache;
  sessions: Pick<Sessions, 'assertLive'>;
  metrics: Pick<Metrics, 'httpDuration'>;
  bodyLimit: string;
  /** `X-API-Key`: the spec's apiKeyAuth scheme (its resolvers) and the limit of the requests a key makes. */
  apiKeys: { scheme: CredentialScheme; limit: RequestHandler[] };
}

/**
 * Signature, issuer, audience and expiry, then the session must be live (revoked, expired,
 * deleted or suspended → 401). A suspended account is 403 elsewhere; here the contract's only
 * refusal is 401 (what a gateway turns into "log in again"), so it counts as a revoked session.
 */
async function verifyLive(deps: VerifyRoutesDeps, token: string): Promise<{ claims: VerifiedAccessToken; live: LiveSession }> {
  // Only an access token (a JWS) is verified here; any other bearer credential is not one.
  if (!jwtFormat.test(token)) throw malformedToken();
  const claims = await deps.signatures.verify(token);
  try {
    return { claims, live: await deps.sessions.assertLive(claims) };
  } catch (err) {
    if (err instanceof AppError && err.code === 'account_suspended') throw new AppError('session_revoked', { detail: 'This account is suspended.' });
    throw err;
  }
}

/** The `VerifiedToken` body: the claims a gateway may rely on, nothing more; the organization as it is now. */
function verifiedToken(t: VerifiedAccessToken, live: LiveSession) {
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
    ...(t.act !== undefined && { act: t.act }),
    ...(live.organization && { org_id: live.organization.id, org_role: live.organization.role }),
    iat: t.iat,
    exp: t.exp,
  };
}

/** The `VerifiedApiKey` body: the key's owner, organization and permissions now. */
function verifiedApiKey(k: ApiKeyPrincipal) {
  return {
    active: true as const,
    credential: 'api_key' as const,
    key_id: k.keyId,
    sub: k.userId,
    permissions: k.permissions,
    status: k.status,
    is_guest: k.isGuest,
    ...(k.organization && { org_id: k.organization.id, org_role: k.organization.role }),
    expires_at: k.expiresAt?.toISOString() ?? null,
  };
}

function orgHeaders(org: { id: string; role: string } | null): Record<string, string> {
  return org ? { 'X-Org-Id': org.id, 'X-Org-Role': org.role } : {};
}

/** Written straight to the socket: no ETag to hash (the answer is no-store), nothing to negotiate. */
function send(res: Response, body: object, headers: Record<string, string>): void {
  const json = JSON.stringify(body);
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json), 'Cache-Control': 'no-store', ...headers });
  res.end(json);
}

function sendToken(res: Response, t: VerifiedAccessToken, live: LiveSession): void {
  send(res, verifiedToken(t, live), {
    'X-User-Id': t.sub,
    'X-Status': t.status,
    'X-Is-Guest': t.is_guest ? 'true' : 'false',
    'X-Permissions': t.permissions.join(','),
    'X-Roles': t.roles.join(','),
    'X-Plan': t.plan,
    'X-Actor-Type': t.actor_type,
    'X-Session-Id': t.sid,
    ...orgHeaders(live.organization),
  });
}

function sendApiKey(res: Response, k: ApiKeyPrincipal): void {
  send(res, verifiedApiKey(k), {
    'X-User-Id': k.userId,
    'X-Status': k.status,
    'X-Is-Guest': k.isGuest ? 'true' : 'false',
    'X-Permissions': k.permissions.join(','),
    'X-Api-Key-Id': k.keyId,
    ...orgHeaders(k.organization),
  });
}

/** Runs middleware (the rate limits) in order, then `done`; a middleware that answers (429) ends the chain. */
function chain(handlers: RequestHandler[], req: Request, res: Response, done: (err?: unknown) => void): void {
  const step = (i: number) => (err?: unknown) => {
    if (err !== undefined) return done(err);
    const handler = handlers[i];
    if (!handler) return done();
    void handler(req, res, step(i + 1));
  };
  step(0)();
}

/**
 * Token verification for gateways (README "Protect your API", spec tag `gateway`): nginx auth_request, Traefik ForwardAuth, Envoy.
 * It runs on every proxied request, so app.ts mounts it first, ahead of the request logger
 * (a child logger per request), helmet, CORS, the body parser and the OpenAPI validator; it
 * therefore gives itself the request id and the duration metric, and checks its own input
 * and credentials (an API key through the apiKeyAuth scheme's resolvers, then its rate limit).
 * Errors go to the problem handler, which adds WWW-Authenticate to 401s. Other methods on the
 * path fall through to the validator (405).
 */
export function verifyRoutes(deps: VerifyRoutesDeps): RequestHandler {
  const json = express.json({ limit: deps.bodyLimit });
  const keyResolver = (value: string) => deps.apiKeys.scheme.resolvers.find((r) => r.format.test(value));

  const verify = async (req: Request, res: Response, next: NextFunction) => {
    const credential = credentialOf(req, (value) => keyResolver(value) !== undefined);
    if (credential.kind === 'token') {
      const { claims, live } = await verifyLive(deps, credential.value);
      return sendToken(res, claims, live);
    }
    const principal = await keyResolver(credential.value)!.resolve(credential.value);
    if (principal.kind !== 'api_key') throw malformedToken();
    rememberPrincipal(req, principal);
    chain(deps.apiKeys.limit, req, res, (err) => (err === undefined ? sendApiKey(res, principal.key) : next(err)));
  };

  return (req: Request, res: Response, next: NextFunction) => {
    const query = req.url.indexOf('?');
    if ((query === -1 ? req.url : req.url.slice(0, query)) !== verifyPath || (req.method !== 'GET' && req.method !== 'POST')) return next();
    req.id = assignRequestId(req, res);
    const end = deps.metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => end({ route: verifyPath, status: String(res.statusCode) }));
    if (req.method === 'GET') return void verify(req, res, next).catch(next);
    try {
      assertJsonBody(req);
    } catch (err) {
      return next(err);
    }
    json(req, res, (err?: unknown) => (err ? next(err) : void verify(req, res, next).catch(next)));
  };
}
