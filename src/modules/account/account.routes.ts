import { Router } from 'express';
import type { PasswordChangeRequest, PasswordResetConfirmRequest, ProfileUpdateRequest } from '../../../sdk/src/types.gen.js';
import { requireAuth, requireOwnSession } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { LimitDeclaration, RateLimits } from '../../http/rate-limit/rate-limits.js';
import type { AccountService } from './account.service.js';

export interface AccountRoutesDeps {
  account: AccountService;
  limits: RateLimits;
  /** README "Abuse protection": reset requests and verification resends per email. */
  rules: { resetEmail: LimitDeclaration['rule']; resendEmail: LimitDeclaration['rule'] };
}

/** Routes of the user's own account; the validator has already checked every body against the spec. */
export function accountRoutes({ account, limits, rules }: AccountRoutesDeps): Router {
  const r = Router();
  r.get('/api/v1/auth/profile', async (req, res) => {
    res.json(await account.profile(requireAuth(req)));
  });
  r.patch('/api/v1/auth/profile', async (req, res) => {
    res.json(await account.updateProfile(requireAuth(req), req.body as ProfileUpdateRequest, requestContext(req)));
  });
  r.post('/api/v1/auth/password/change', async (req, res) => {
    res.json(await account.changePassword(requireOwnSession(req), req.body as PasswordChangeRequest, requestContext(req)));
  });
  r.post('/api/v1/auth/password/reset/request', ...limits.of({ name: 'reset-email', rule: rules.resetEmail, by: 'email' }), async (req, res) => {
    res.status(202).json(await account.requestPasswordReset((req.body as { email: string }).email, requestContext(req)));
  });
  r.post('/api/v1/auth/password/reset/confirm', async (req, res) => {
    await account.confirmPasswordReset(req.body as PasswordResetConfirmRequest, requestContext(req));
    res.status(204).end();
  });
  r.post('/api/v1/auth/email/resend', ...limits.of({ name: 'resend-email', rule: rules.resendEmail, by: 'email' }), async (req, res) => {
    res.status(202).json(await account.resendVerification((req.body as { email: string }).email));
  });
  return r;
}
