import { Router } from 'express';
import { requestContext } from '../../http/request-context.js';
import { requireAuth, requireEnrolment, requireOwnSession } from '../../http/authenticate.js';
import type { MfaService, VerifyInput } from './mfa.service.js';

/** Routes of two-factor authentication; the validator has already checked every body against the spec. */
export function mfaRoutes({ mfa }: { mfa: MfaService }): Router {
  const r = Router();
  r.post('/api/v1/auth/2fa/enable', async (req, res) => {
    res.json(await mfa.enable(requireEnrolment(req)));
  });
  r.post('/api/v1/auth/2fa/enable/confirm', async (req, res) => {
    const who = requireEnrolment(req);
    // A full session's id for the audit row; the restricted setup token has none.
    const sessionId = who.setupChallengeId ? undefined : requireAuth(req).sid;
    res.json(await mfa.confirm(who, (req.body as { code: string }).code, requestContext(req), sessionId));
  });
  r.post('/api/v1/auth/2fa/verify', async (req, res) => {
    res.json(await mfa.verify(req.body as VerifyInput, requestContext(req)));
  });
  r.post('/api/v1/auth/2fa/disable', async (req, res) => {
    const { password, code } = req.body as { password: string; code: string };
    await mfa.disable(requireOwnSession(req), password, code, requestContext(req));
    res.status(204).end();
  });
  r.post('/api/v1/auth/2fa/backup-codes', async (req, res) => {
    res.json(await mfa.regenerateBackupCodes(requireOwnSession(req), (req.body as { password: string }).password, requestContext(req)));
  });
  return r;
}
