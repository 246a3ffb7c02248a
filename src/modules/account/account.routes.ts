import { Router } from 'express';
import type { PasswordChangeRequest, PasswordResetConfirmRequest, ProfileUpdateRequest } from '../../../sdk/src/types.gen.js';
import { requestContext } from '../audit/request-context.js';
import { requireAuth } from '../auth/bearer-auth.js';
import type { AccountService } from './account.service.js';

/** Routes of the user's own account; the validator has already checked every body against the spec. */
export function accountRoutes(account: AccountService): Router {
  const r = Router();
  r.patch('/api/v1/auth/profile', async (req, res) => {
    res.json(await account.updateProfile(requireAuth(req), req.body as ProfileUpdateRequest, requestContext(req)));
  });
  r.post('/api/v1/auth/password/change', async (req, res) => {
    res.json(await account.changePassword(requireAuth(req), req.body as PasswordChangeRequest, requestContext(req)));
  });
  r.post('/api/v1/auth/password/reset/request', async (req, res) => {
    res.status(202).json(await account.requestPasswordReset((req.body as { email: string }).email, requestContext(req)));
  });
  r.post('/api/v1/auth/password/reset/confirm', async (req, res) => {
    await account.confirmPasswordReset(req.body as PasswordResetConfirmRequest, requestContext(req));
    res.status(204).end();
  });
  r.post('/api/v1/auth/email/resend', async (req, res) => {
    res.status(202).json(await account.resendVerification((req.body as { email: string }).email));
  });
  return r;
}
