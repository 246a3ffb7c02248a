import { Router, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../../config/config.js';
import type { FastStore } from '../store/store.js';
import { limitKey, type LimitKind } from './keys.js';
import { createLimiter } from './limiter.js';

type RuleSetting = 'RATE_LIMIT_LOGIN_IP' | 'RATE_LIMIT_LOGIN_EMAIL' | 'RATE_LIMIT_REGISTER_IP' | 'RATE_LIMIT_GUEST_IP' | 'RATE_LIMIT_PASSWORD_RESET_EMAIL' | 'RATE_LIMIT_VERIFICATION_RESEND_EMAIL';

interface LimitPlan {
  name: string;
  setting: RuleSetting;
  by: LimitKind;
}

/** The limits of SPEC §4.10 on the POST routes they protect, in the order they count. */
const plan: Array<{ path: string; limits: LimitPlan[] }> = [
  {
    path: '/api/v1/auth/login',
    limits: [
      { name: 'login-ip', setting: 'RATE_LIMIT_LOGIN_IP', by: 'ip' },
      { name: 'login-email', setting: 'RATE_LIMIT_LOGIN_EMAIL', by: 'email' },
    ],
  },
  { path: '/api/v1/auth/register', limits: [{ name: 'register-ip', setting: 'RATE_LIMIT_REGISTER_IP', by: 'ip' }] },
  { path: '/api/v1/auth/guest', limits: [{ name: 'guest-ip', setting: 'RATE_LIMIT_GUEST_IP', by: 'ip' }] },
  { path: '/api/v1/auth/password/reset/request', limits: [{ name: 'reset-email', setting: 'RATE_LIMIT_PASSWORD_RESET_EMAIL', by: 'email' }] },
  { path: '/api/v1/auth/email/resend', limits: [{ name: 'resend-email', setting: 'RATE_LIMIT_VERIFICATION_RESEND_EMAIL', by: 'email' }] },
];

/**
 * The rate limits of the auth routes. Mounted after the body parser and the validator, so an
 * email limit reads a checked body. A limit set to `off` is not installed.
 */
export function authRateLimits(deps: { config: Config; store: FastStore; logger: Logger }): Router {
  const { config } = deps;
  const r = Router();
  for (const { path, limits } of plan) {
    const handlers: RequestHandler[] = limits.flatMap(({ name, setting, by }) => {
      const rule = config[setting];
      return rule ? [createLimiter({ name, rule, key: (req) => limitKey(by, req, config.RATE_LIMIT_IPV6_SUBNET) }, deps)] : [];
    });
    if (handlers.length) r.post(path, ...handlers);
  }
  return r;
}
