import { isIP } from 'node:net';
import { z } from 'zod';
import { plannedWorkers } from '../cluster/workers.cjs';
import { parseOAuthConfig, type OAuthConfig } from './oauth-config.js';

const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** A rate limit: `off`, or `<count>/<window>` with the window in s, m or h (`10/15m`). */
const rateLimitRule = z
  .string()
  .regex(/^(off|\d+\/\d+[smh])$/, 'off, or <count>/<window> such as 10/15m (s, m or h)')
  .transform((v): RateLimitRule | null => {
    if (v === 'off') return null;
    const [count, window] = v.split('/') as [string, string];
    const unit = { s: 1000, m: 60_000, h: 3_600_000 }[window.slice(-1) as 's' | 'm' | 'h'];
    return { limit: Number(count), windowMs: Number(window.slice(0, -1)) * unit };
  })
  .refine((r) => r === null || (r.limit > 0 && r.windowMs > 0), 'count and window must be positive');
const rateLimit = (fallback: string) => z.string().default(fallback).pipe(rateLimitRule);
const countryCode = z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 country codes such as FR, GQ');
/** Per-country overrides of a rule: `GQ:50/1h,FR:5000/1h` (`off` lifts a country's budget). */
const countryRules = z
  .string()
  .default('')
  .transform((v, ctx): Record<string, RateLimitRule | null> => {
    const rules: Record<string, RateLimitRule | null> = {};
    for (const entry of v.split(',').map((e) => e.trim()).filter(Boolean)) {
      const [country = '', rule = ''] = entry.split(':');
      const parsed = rateLimitRule.safeParse(rule);
      if (!/^[A-Z]{2}$/.test(country) || !parsed.success) {
        ctx.addIssue({ code: 'custom', message: `'${entry}' is not <country>:<count>/<window> (FR:5000/1h) or <country>:off` });
        continue;
      }
      rules[country] = parsed.data;
    }
    return rules;
  });

const isOrigin = (o: string) => {
  try {
    return new URL(o).origin === o;
  } catch {
    return false;
  }
};
const isProxyEntry = (v: string) => ['loopback', 'linklocal', 'uniquelocal'].includes(v) || isIP(v.split('/')[0] ?? '') !== 0;

/** Every setting of Sésame, read once from the environment and validated at start. */
const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.string().url().optional(),
  REDIS_URL: z.string().url().optional(),
  DATA_DIR: z.string().default('.data'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  PUBLIC_URL: z.string().url().optional(),
  APP_URL: z.string().url().default('http://localhost:5173'),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).default('sesame'),
  KEY_ENCRYPTION_KEY: z.string().min(32).optional(),
  CORS_ORIGINS: list.pipe(z.array(z.string().refine((o) => o === '*' || isOrigin(o), 'each entry must be an origin such as https://app.example.com, or *'))).default([]),
  BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)?$/i, 'a size such as 100kb or 1mb').default('100kb'),
  // 1,000 imported users with every field are about 500 kB of JSON.
  IMPORT_BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)?$/i, 'a size such as 100kb or 1mb').default('1mb'),
  TRUST_PROXY: z
    .string()
    .refine((v) => /^(true|false|\d+)$/.test(v) || v.split(',').every((x) => isProxyEntry(x.trim())), 'true, false, a hop count, or a comma-separated list of addresses/subnets')
    .default('false'),
  SMTP_URL: z.string().url().optional(),
  MAIL_FROM: z.string().default('Sésame <no-reply@sesame.local>'),
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).default(1000),
  OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(8),
  OUTBOX_BACKOFF_MS: z.coerce.number().int().min(1).max(3_600_000).default(2000),
  REGISTER_REVEAL_EXISTING: bool.default(false),
  DEFAULT_ACTOR_TYPE: z.string().default('citizen'),
  TOTP_ISSUER: z.string().min(1).max(64).default('Sésame'),
  REFRESH_GRACE_SECONDS: z.coerce.number().int().min(0).max(300).default(10),
  SHORT_SESSION_SECONDS: z.coerce.number().int().min(60).default(86_400),
  SESSION_CACHE_SECONDS: z.coerce.number().int().min(0).max(60).default(5),
  RATE_LIMIT_LOGIN_IP: rateLimit('10/15m'),
  RATE_LIMIT_LOGIN_EMAIL: rateLimit('5/15m'),
  RATE_LIMIT_REGISTER_IP: rateLimit('5/1h'),
  RATE_LIMIT_GUEST_IP: rateLimit('20/1h'),
  RATE_LIMIT_PASSWORD_RESET_EMAIL: rateLimit('3/1h'),
  RATE_LIMIT_VERIFICATION_RESEND_EMAIL: rateLimit('3/1h'),
  RATE_LIMIT_OAUTH_IP: rateLimit('60/15m'),
  RATE_LIMIT_IPV6_SUBNET: z.coerce.number().int().min(32).max(128).default(64),
  LOCKOUT_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(10),
  LOCKOUT_DURATION_SECONDS: z.coerce.number().int().min(1).default(1800),
  CAPTCHA_AFTER_FAILURES: z.coerce.number().int().min(1).default(3),
  CAPTCHA_VERIFY_URL: z.string().url().optional(),
  CAPTCHA_SECRET: z.string().min(1).optional(),
  SMS_PROVIDER: z.enum(['dev', 'twilio']).default('dev'),
  SMS_API_URL: z.string().url().default('https://api.twilio.com'),
  SMS_ACCOUNT_SID: z.string().min(1).optional(),
  SMS_AUTH_TOKEN: z.string().min(1).optional(),
  SMS_FROM: z.string().min(1).max(32).optional(),
  SMS_MESSAGING_SERVICE_SID: z.string().min(1).optional(),
  SMS_ALLOWED_COUNTRIES: list.pipe(z.array(countryCode)).default([]),
  SMS_COUNTRY_BUDGET: rateLimit('1000/1h'),
  SMS_COUNTRY_BUDGETS: countryRules,
  RATE_LIMIT_SMS_PHONE: rateLimit('5/1h'),
  RATE_LIMIT_SMS_IP: rateLimit('20/1h'),
  RATE_LIMIT_QR_IP: rateLimit('30/15m'),
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(1024).default(19_456),
  ARGON2_TIME_COST: z.coerce.number().int().min(1).default(2),
  VALIDATE_RESPONSES: bool.optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  WORKERS: z.coerce.number().int().min(1).max(256).optional(),
  API_KEY_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,14}_$/, 'lower-case letters and digits ending with _, at most 16 characters, such as czo_')
    .default('czo_'),
  RATE_LIMIT_API_KEY: rateLimit('100/1m'),
  API_KEY_USAGE_FLUSH_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  RATE_LIMIT_INVITATIONS_ORG: rateLimit('50/1h'),
  RATE_LIMIT_INVITATIONS_USER: rateLimit('20/1h'),
});

export interface RateLimitRule {
  limit: number;
  windowMs: number;
}

export type RawConfig = z.infer<typeof schema>;
export type Config = RawConfig & {
  PUBLIC_URL: string;
  JWT_ISSUER: string;
  VALIDATE_RESPONSES: boolean;
  WORKERS: number;
  trustProxy: boolean | number | string;
  /** PUBLIC_URL was not given: it follows the address the server listens on (see withListenAddress). */
  publicUrlFollowsListener: boolean;
  oauth: OAuthConfig;
};

export class ConfigError extends Error {}

/** Parses the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable counts as unset (PORT= must not mean a random port).
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = schema.safeParse(given);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${String(i.path[0])}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  if (c.NODE_ENV === 'production') {
    // PUBLIC_URL names the token issuer: in production it must be said, not defaulted to localhost.
    const missing = (['DATABASE_URL', 'REDIS_URL', 'KEY_ENCRYPTION_KEY', 'PUBLIC_URL'] as const).filter((k) => !given[k]);
    if (missing.length) throw new ConfigError(`Invalid configuration:\n${missing.map((k) => `  ${k}: required in production`).join('\n')}`);
  }
  const oauth = parseOAuthConfig(given as Record<string, string>, c.NODE_ENV === 'production');
  if (oauth.errors.length) throw new ConfigError(`Invalid configuration:\n${oauth.errors.join('\n')}`);
  if (c.SMS_PROVIDER === 'twilio') {
    const missing: string[] = (['SMS_ACCOUNT_SID', 'SMS_AUTH_TOKEN'] as const).filter((k) => !c[k]);
    if (!c.SMS_FROM && !c.SMS_MESSAGING_SERVICE_SID) missing.push('SMS_FROM or SMS_MESSAGING_SERVICE_SID');
    if (missing.length) throw new ConfigError(`Invalid configuration:\n${missing.map((k) => `  ${k}: required with SMS_PROVIDER=twilio`).join('\n')}`);
  }
  const config: Config = {
    ...c,
    oauth: oauth.config,
    PUBLIC_URL: c.PUBLIC_URL ?? '',
    JWT_ISSUER: c.JWT_ISSUER ?? c.PUBLIC_URL ?? '',
    VALIDATE_RESPONSES: c.VALIDATE_RESPONSES ?? c.NODE_ENV !== 'production',
    WORKERS: plannedWorkers(c),
    trustProxy: parseTrustProxy(c.TRUST_PROXY),
    publicUrlFollowsListener: c.PUBLIC_URL === undefined,
  };
  return withListenAddress(config, c.HOST, c.PORT);
}

/**
 * Outside production PUBLIC_URL may be left unset: it is then the address the server is reached
 * at (http://localhost:<port>, or the host when it names one interface), and so is the default
 * token issuer. The server calls it again with the port it got (PORT=0 picks one).
 */
export function withListenAddress(config: Config, listenHost: string, port: number): Config {
  if (!config.publicUrlFollowsListener) return config;
  const host = ['0.0.0.0', '::', ''].includes(listenHost) ? 'localhost' : isIP(listenHost) === 6 ? `[${listenHost}]` : listenHost;
  const url = `http://${host}:${port}`;
  return { ...config, PUBLIC_URL: url, JWT_ISSUER: config.JWT_ISSUER === config.PUBLIC_URL ? url : config.JWT_ISSUER };
}

function parseTrustProxy(v: string): boolean | number | string {
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v; // a list of addresses/subnets, as Express accepts it
}
