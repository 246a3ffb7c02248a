import { Router } from 'express';
import type { QrChallengeRequest, QrDecisionRequest, QrInspectRequest } from '../../../sdk/src/types.gen.js';
import { requireAuth, requireBound } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { LimitDeclaration, RateLimits } from '../../http/rate-limit/rate-limits.js';
import { AppError } from '../../shared/errors.js';
import { qrChallengeResource } from './poll-credential.js';
import type { QrLogin } from './qr-login.js';

export interface QrRoutesDeps {
  qr: QrLogin;
  limits: RateLimits;
  /** README "QR login": challenges per client IP. */
  rules: { qrIp: LimitDeclaration['rule'] };
}

/** Cross-device sign-in by QR code; the validator has checked bodies and paths and resolved the credentials. */
export function qrRoutes({ qr, limits, rules }: QrRoutesDeps): Router {
  const r = Router();
  r.post('/api/v1/auth/qr/challenges', ...limits.of({ name: 'qr-ip', rule: rules.qrIp, by: 'ip' }), async (req, res) => {
    res.status(201).json(await qr.create((req.body ?? {}) as QrChallengeRequest, requestContext(req)));
  });
  r.get('/api/v1/auth/qr/challenges/:challenge_id', async (req, res) => {
    // A poll token answers for its own challenge only; any other id is not found for it.
    if (requireBound(req, qrChallengeResource) !== req.params.challenge_id) throw new AppError('qr_challenge_not_found', { detail: 'No such QR challenge for this poll token.' });
    res.json(await qr.poll(req.params.challenge_id, requestContext(req)));
  });
  r.post('/api/v1/auth/qr/inspect', async (req, res) => {
    res.json(await qr.inspect(requireAuth(req), (req.body as QrInspectRequest).challenge, requestContext(req)));
  });
  r.post('/api/v1/auth/scan-login', async (req, res) => {
    const body = req.body as QrDecisionRequest;
    res.json(await qr.decide(requireAuth(req), body.challenge, body.approve, requestContext(req)));
  });
  return r;
}
