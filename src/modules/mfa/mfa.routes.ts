import { Router } from 'express';
import { requireAuth, requireEnrolment } from '../auth/bearer-auth.js';
import type { MfaService, VerifyInput } from './mfa.service.js';

/** Routes of two-factor authentication; the validator has already checked every body against the spec. */
export function mfaRoutes(mfa: MfaService): Router {
  const r = Router();
  r.post('/api/v1/auth/2fa/enable', async (req, res) => {
    res.json(await mfa.enable(requireEnrolment(req)));
  });
  r.post('/api/v1/auth/2fa/enable/confirm', async (req, res) => {
    res.json(await mfa.confirm(requireEnrolment(req), (req.body as { code: string }).code));
  });
  r.post('/api/v1/auth/2fa/verify', async (req, res) => {
    res.json(await mfa.verify(req.body as VerifyInput));
  });
  r.post('/api/v1/auth/2fa/disable', async (req, res) => {
    const { password, code } = req.body as { password: string; code: string };
    await mfa.disable(requireAuth(req).sub, password, code);
    res.status(204).end();
  });
  r.post('/api/v1/auth/2fa/backup-codes', async (req, res) => {
    res.json(await mfa.regenerateBackupCodes(requireAuth(req).sub, (req.body as { password: string }).password));
  });
  return r;
}
