import { Router, type Request } from 'express';
import type { RequestContext } from '../audit/audit.js';
import type { AuthService, LoginInput, RegisterInput } from './auth.service.js';
import { requireAuth } from './bearer-auth.js';

function context(req: Request): RequestContext {
  return { ip: req.ip, userAgent: req.get('user-agent') };
}

/** Routes of the account slice; the validator has already checked every body against the spec. */
export function authRoutes(auth: AuthService): Router {
  const r = Router();
  r.post('/api/v1/auth/register', async (req, res) => {
    res.status(201).json(await auth.register(req.body as RegisterInput, context(req)));
  });
  r.post('/api/v1/auth/email/verify', async (req, res) => {
    res.json(await auth.verifyEmail((req.body as { token: string }).token, context(req)));
  });
  r.post('/api/v1/auth/login', async (req, res) => {
    res.json(await auth.login(req.body as LoginInput, context(req)));
  });
  r.post('/api/v1/auth/refresh', async (req, res) => {
    res.json(await auth.refresh((req.body as { refresh_token: string }).refresh_token, context(req)));
  });
  r.post('/api/v1/auth/logout', async (req, res) => {
    await auth.logout(requireAuth(req), (req.body as { all_devices?: boolean } | undefined)?.all_devices === true, context(req));
    res.status(204).end();
  });
  r.get('/api/v1/auth/profile', async (req, res) => {
    res.json(await auth.profile(requireAuth(req)));
  });
  return r;
}
