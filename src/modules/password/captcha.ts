import { ConfigError, type Config } from '../../config/config.js';
import { DependencyUnavailableError } from '../../shared/errors.js';

/**
 * A CAPTCHA verifier: checks the token a CAPTCHA widget gave the browser. Sésame asks for one
 * on login once an email has `CAPTCHA_AFTER_FAILURES` failed attempts in a row (3 by default),
 * and only when a verifier is configured (off by default).
 *
 * `verify` resolves true when the provider accepts the token and false when it refuses it (the
 * client gets 400 `captcha_invalid`); it throws when the provider cannot be asked (unreachable,
 * an error status, an unreadable answer), which the client sees as 503 `service_unavailable`.
 * Any provider can be plugged in by implementing this interface; `SiteVerifyCaptcha` speaks the
 * protocol of reCAPTCHA, hCaptcha and Cloudflare Turnstile.
 */
export interface CaptchaVerifier {
  verify(token: string, context: { ip?: string; action: 'login' }): Promise<boolean>;
}

const verifyTimeoutMs = 5000;

/**
 * The "siteverify" protocol of reCAPTCHA, hCaptcha and Cloudflare Turnstile: POST `secret`,
 * `response` (the token) and `remoteip` as application/x-www-form-urlencoded, read `{ success }`.
 */
export class SiteVerifyCaptcha implements CaptchaVerifier {
  constructor(
    private readonly url: string,
    private readonly secret: string,
  ) {}

  async verify(token: string, context: { ip?: string; action: 'login' }): Promise<boolean> {
    const form = new URLSearchParams({ secret: this.secret, response: token });
    if (context.ip) form.set('remoteip', context.ip);
    let answer: { success?: unknown };
    try {
      const res = await fetch(this.url, { method: 'POST', body: form, signal: AbortSignal.timeout(verifyTimeoutMs) });
      if (!res.ok) throw new Error(`the CAPTCHA verifier answered ${res.status}`);
      answer = (await res.json()) as { success?: unknown };
    } catch (err) {
      throw new DependencyUnavailableError('CAPTCHA verifier', err);
    }
    return answer?.success === true;
  }
}

/** The verifier the settings describe: SiteVerifyCaptcha when both CAPTCHA_VERIFY_URL and CAPTCHA_SECRET are set, else none. */
export function captchaFromConfig(config: Pick<Config, 'CAPTCHA_VERIFY_URL' | 'CAPTCHA_SECRET'>): CaptchaVerifier | undefined {
  const { CAPTCHA_VERIFY_URL: url, CAPTCHA_SECRET: secret } = config;
  if (url && secret) return new SiteVerifyCaptcha(url, secret);
  if (url || secret) throw new ConfigError(`Invalid configuration:\n  ${url ? 'CAPTCHA_SECRET' : 'CAPTCHA_VERIFY_URL'}: required when ${url ? 'CAPTCHA_VERIFY_URL' : 'CAPTCHA_SECRET'} is set`);
  return undefined;
}
