import { Router, type Request } from 'express';
import { requireAuth, requireOwnSession } from '../../http/authenticate.js';
import type { LimitDeclaration, RateLimits } from '../../http/rate-limit/rate-limits.js';
import { requestContext } from '../../http/request-context.js';
import type { ExchangeInput, ExternalSignIn } from './external-sign-in.js';
import { flowTtlMs } from './external-sign-in.js';
import type { Identities } from './identities.service.js';

export interface OAuthRoutesDeps {
  externalSignIn: ExternalSignIn;
  identities: Identities;
  limits: RateLimits;
  /** README "Abuse protection": flows started and codes exchanged per client IP. */
  rules: { oauthIp: LimitDeclaration['rule'] };
  /** `Secure` on the binding cookie (and the `__Host-` prefix): outside development, or on https. */
  secureCookie: boolean;
}

/** Reads one cookie of the request (the binding cookie holds base64url only). */
function cookie(req: Request, name: string): string | undefined {
  for (const part of req.get('cookie')?.split(';') ?? []) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** External sign-in (start, callback, exchange) and the user's identities; the validator has checked every input against the spec. */
export function oauthRoutes({ externalSignIn, identities, limits, rules, secureCookie }: OAuthRoutesDeps): Router {
  const r = Router();
  const limit = limits.of({ name: 'oauth-ip', rule: rules.oauthIp, by: 'ip' });
  const cookieName = secureCookie ? '__Host-sesame_oauth' : 'sesame_oauth';

  r.get('/api/v1/auth/oauth/providers', (_req, res) => {
    res.json({ items: externalSignIn.list(), next_cursor: null });
  });

  r.post('/api/v1/auth/oauth/exchange', ...limit, async (req, res) => {
    res.json(await externalSignIn.exchange(req.body as ExchangeInput, requestContext(req)));
  });

  r.get('/api/v1/auth/oauth/:provider', ...limit, async (req, res) => {
    const q = req.query as { redirect_uri: string; actor_type?: string; code_challenge?: string; remember_me?: string | boolean };
    const started = await externalSignIn.start(
      { provider: String(req.params.provider), redirectUri: q.redirect_uri, actorType: q.actor_type, codeChallenge: q.code_challenge, rememberMe: String(q.remember_me) !== 'false' },
      cookie(req, cookieName),
    );
    // The binding cookie: sent back on the provider's top-level redirect to the callback (Lax), never readable by scripts.
    res.cookie(cookieName, started.browserSecret, { httpOnly: true, secure: secureCookie, sameSite: 'lax', path: '/', maxAge: flowTtlMs });
    res.redirect(302, started.location);
  });

  r.get('/api/v1/auth/oauth/:provider/callback', async (req, res) => {
    const query = new URL(req.originalUrl, 'http://callback.invalid').searchParams;
    res.redirect(302, await externalSignIn.callback(String(req.params.provider), query, cookie(req, cookieName), requestContext(req)));
  });

  r.get('/api/v1/auth/identities', async (req, res) => {
    res.json(await identities.list(requireAuth(req).sub));
  });

  r.post('/api/v1/auth/identities/link/confirm', async (req, res) => {
    res.status(201).json(await identities.confirmLink(requireOwnSession(req).sub, req.body as { code: string; code_verifier?: string }, requestContext(req)));
  });

  r.post('/api/v1/auth/identities/:provider/link', ...limit, async (req, res) => {
    res.json(await externalSignIn.startLink(requireOwnSession(req).sub, String(req.params.provider), req.body as { redirect_uri: string; code_challenge?: string }));
  });

  r.delete('/api/v1/auth/identities/:identity_id', async (req, res) => {
    await identities.unlink(requireOwnSession(req).sub, String(req.params.identity_id), requestContext(req));
    res.status(204).end();
  });
  return r;
}
