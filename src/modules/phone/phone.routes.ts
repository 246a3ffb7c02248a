import { Router } from 'express';
import type { PhoneAttachRequest, PhoneLoginRequest, PhoneRegisterRequest, PhoneVerificationConfirm, PhoneVerificationRequest } from '../../../sdk/src/types.gen.js';
import { requireOwnSession } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { LimitDeclaration, RateLimits } from '../../http/rate-limit/rate-limits.js';
import { AppError } from '../../shared/errors.js';
import { parsedPhoneNumber, phoneOf } from './phone-input.js';
import type { PhoneSignIn } from './phone-sign-in.js';
import type { PhoneVerifications } from './phone-verification.js';

export interface PhoneRoutesDeps {
  verifications: PhoneVerifications;
  phoneSignIn: PhoneSignIn;
  limits: RateLimits;
  /** README "Phone sign-in": code requests per number and per client IP. */
  rules: { smsPhone: LimitDeclaration['rule']; smsIp: LimitDeclaration['rule'] };
  allowedCountries: readonly string[];
  /** false in production without an SMS provider: no code could reach anyone. */
  smsDelivery: boolean;
}

/** Phone verification, phone sign-up and sign-in, and the account's verified phone; the validator has checked every body. */
export function phoneRoutes({ verifications, phoneSignIn, limits, rules, allowedCountries, smsDelivery }: PhoneRoutesDeps): Router {
  const r = Router();
  r.post(
    '/api/v1/auth/phone/verify/request',
    parsedPhoneNumber(allowedCountries),
    ...limits.of({ name: 'sms-phone', rule: rules.smsPhone, by: 'phone' }, { name: 'sms-ip', rule: rules.smsIp, by: 'ip' }),
    async (req, res) => {
      if (!smsDelivery) throw new AppError('service_unavailable', { detail: 'No SMS provider is configured (SMS_PROVIDER).' });
      const body = req.body as PhoneVerificationRequest;
      res.status(202).json(await verifications.request(phoneOf(req), body.purpose, body.language ?? 'en', requestContext(req)));
    },
  );
  r.post('/api/v1/auth/phone/verify/confirm', async (req, res) => {
    const body = req.body as PhoneVerificationConfirm;
    res.json(await verifications.confirm(body.verification_id, body.code, requestContext(req)));
  });
  r.post('/api/v1/auth/phone/register', async (req, res) => {
    res.status(201).json(await phoneSignIn.register(req.body as PhoneRegisterRequest, requestContext(req)));
  });
  r.post('/api/v1/auth/phone/login', async (req, res) => {
    res.json(await phoneSignIn.login(req.body as PhoneLoginRequest, requestContext(req)));
  });
  r.put('/api/v1/auth/phone', async (req, res) => {
    res.json(await phoneSignIn.setPhone(requireOwnSession(req), req.body as PhoneAttachRequest, requestContext(req)));
  });
  return r;
}
