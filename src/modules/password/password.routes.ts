import { Router } from 'express';
import { requestContext } from '../../http/request-context.js';
import type { LimitDeclaration, RateLimits } from '../../http/rate-limit/rate-limits.js';
import type { LoginInput, PasswordLogin } from './password-login.js';
import type { RegisterInput, Registration } from './registration.js';

export interface PasswordRoutesDeps {
  registration: Registration;
  login: PasswordLogin;
  limits: RateLimits;
  /** README "Abuse protection": login per client IP and per email, registration per client IP. */
  rules: { loginIp: LimitDeclaration['rule']; loginEmail: LimitDeclaration['rule']; registerIp: LimitDeclaration['rule'] };
}

/** Sign-up, email verification and password sign-in; the validator has already checked every body against the spec. */
export function passwordRoutes({ registration, login, limits, rules }: PasswordRoutesDeps): Router {
  const r = Router();
  r.post('/api/v1/auth/register', ...limits.of({ name: 'register-ip', rule: rules.registerIp, by: 'ip' }), async (req, res) => {
    res.status(201).json(await registration.register(req.body as RegisterInput, requestContext(req)));
  });
  r.post('/api/v1/auth/email/verify', async (req, res) => {
    res.json(await registration.verifyEmail((req.body as { token: string }).token, requestContext(req)));
  });
  r.post(
    '/api/v1/auth/login',
    ...limits.of(
      { name: 'login-ip', rule: rules.loginIp, by: 'ip' },
      // Failures only, and not those of a device that signed in to the account before: nobody
      // can keep the owner out by failing on purpose.
      { name: 'login-email', rule: rules.loginEmail, by: 'email', counts: 'failures', skip: (req) => login.fromTrustedDevice(req.body as Partial<LoginInput>) },
    ),
    async (req, res) => {
      res.json(await login.login(req.body as LoginInput, requestContext(req)));
    },
  );
  return r;
}
