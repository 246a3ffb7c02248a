import type { Knex } from 'knex';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { auditRow } from '../../identity/audit-trail.js';
import { firstFactorAmr } from '../../identity/auth-method.js';
import { deviceTrust } from '../../identity/device-trust.js';
import { readSignInSubject, type SignInSubject } from '../../identity/sign-in-subject.js';
import type { DeviceInput } from '../../identity/sessions/sessions.js';
import { loginAnswer, type LoginAnswer, type SignInObserver, type SignInPipeline } from '../../identity/sign-in.js';
import { normalizeEmail, usersRepo, type UserRow } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { insertWhere } from '../../infra/db.js';
import { outboxRow } from '../../infra/messages/outbox.js';
import type { Metrics } from '../../infra/metrics.js';
import type { PasswordHasher } from '../../infra/passwords.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import type { CaptchaVerifier } from './captcha.js';
import { accountLockedError, type LockoutState, type LoginLockout } from './lockout.js';

export interface LoginInput {
  email: string;
  password: string;
  remember_me?: boolean;
  actor_type?: string;
  device?: DeviceInput;
  captcha_token?: string;
  device_token?: string;
}

export interface PasswordLoginSettings {
  appUrl: string;
  /** Failed logins (of an email) from which a CAPTCHA answer is needed, when a verifier exists. */
  captchaAfterFailures: number;
}

export interface PasswordLoginDeps {
  db: Knex;
  clock: Clock;
  hasher: PasswordHasher;
  metrics: Metrics;
  lockout: LoginLockout;
  signIn: SignInPipeline;
  captcha?: CaptchaVerifier;
  settings: PasswordLoginSettings;
}

const invalidCredentials = () => new AppError('invalid_credentials', { detail: 'The email or the password is wrong.' });
/** Refusals of the sign-in pipeline that the login metric counts under their own status. */
const pipelineRefusals = new Set(['email_not_verified', 'account_suspended', 'actor_type_not_held']);

/**
 * The password sign-in method: the first factor is an email and a password; the sign-in pipeline
 * does the rest. Only tokens prove the sign-in: a login paused for a second factor stays counted
 * by the lockout (so guessing codes behind a known password still meets it) until the pipeline
 * completes it (see lockoutReset).
 */
export class PasswordLogin {
  constructor(private readonly deps: PasswordLoginDeps) {}

  /**
   * Tokens, or an MFA challenge (no tokens) when the user has 2FA on or the actor type requires it.
   * The actor type's policy comes before credentials: a named type that does not allow passwords
   * is refused before anything else (the answer does not depend on the account). Unknown emails,
   * and accounts holding no type that allows passwords, go through the same steps as wrong
   * passwords (CAPTCHA threshold, attempt reservation, one argon2 verification, failure record),
   * so the answer reveals nothing.
   */
  async login(input: LoginInput, context: RequestContext): Promise<LoginAnswer> {
    const { db, hasher, metrics, lockout, signIn } = this.deps;
    const stopTimer = metrics.loginDuration.startTimer();
    try {
      if (input.actor_type !== undefined) await this.assertPasswordAllowed(input.actor_type);
      const email = normalizeEmail(input.email);
      const trusted = await this.trustedDevice(input.device_token, email);
      if (!trusted) await this.checkCaptcha(email, input.captcha_token, context);
      const { attempt, counter, subject } = await this.reserveAttempt(email, trusted);
      if (attempt.locked) {
        metrics.loginAttempts.inc({ status: 'account_locked', role: 'unknown' });
        throw accountLockedError(attempt.retryAfterSeconds);
      }
      const { user, held, access } = subject;
      const methodAllowed = actorPolicy.anyAllows(held, 'password');
      // Without an allowed method the real hash is not touched: the decoy costs the same.
      const ok = user?.password_hash && methodAllowed ? await hasher.verify(user.password_hash, input.password) : await hasher.verifyDecoy(input.password);
      if (!user || !ok) {
        await this.recordFailure(email, counter, user, context, user && !methodAllowed ? 'method_not_allowed' : undefined);
        metrics.loginAttempts.inc({ status: 'invalid_credentials', role: 'unknown' });
        throw invalidCredentials();
      }
      const role = (input.actor_type === undefined ? actorPolicy.actingType(held, 'password') : held.find((a) => a.name === input.actor_type))?.name ?? 'unknown';
      try {
        const result = await signIn.complete({
          user,
          method: 'password',
          amr: firstFactorAmr('password'),
          actorType: input.actor_type,
          held,
          access,
          rememberMe: input.remember_me ?? true,
          device: input.device,
          context,
          trustDevice: true,
        });
        // A trusted device counted on its own counter while the account was locked: it starts again.
        if (counter !== email && result.kind === 'session') await lockout.succeeded(counter);
        if (hasher.needsRehash(user.password_hash!)) await usersRepo.update(db, user.id, { password_hash: await hasher.hash(input.password) });
        metrics.loginAttempts.inc({ status: result.kind === 'challenge' ? 'mfa_required' : 'success', role });
        return loginAnswer(result);
      } catch (err) {
        if (err instanceof AppError && pipelineRefusals.has(err.code)) metrics.loginAttempts.inc({ status: err.code, role });
        await lockout.release(counter);
        throw err;
      }
    } finally {
      stopTimer();
    }
  }

  /** Whether a login body carries a device token valid for its email (the per-email limit lets it through). */
  async fromTrustedDevice(body: Partial<LoginInput> | undefined): Promise<boolean> {
    if (typeof body?.email !== 'string' || typeof body.device_token !== 'string') return false;
    return (await this.trustedDevice(body.device_token, normalizeEmail(body.email))) !== undefined;
  }

  /** The device's own attempt counter when `token` proves it signed in to this account before, else undefined. */
  private async trustedDevice(token: string | undefined, email: string): Promise<string | undefined> {
    return token === undefined ? undefined : deviceTrust.trustedFor(this.deps.db, this.deps.clock, token, email);
  }

  /**
   * Counts the attempt before the password is checked: on the email's counter, except that while
   * the account is locked a trusted device counts on its own (so the lockout others caused is no
   * denial of service to the owner's devices, and a stolen device token still meets a lock). The
   * email's attempt and the account are one statement, the same for an unknown email.
   */
  private async reserveAttempt(email: string, trusted: string | undefined): Promise<{ attempt: LockoutState; counter: string; subject: SignInSubject }> {
    const { db, clock, lockout } = this.deps;
    const now = clock.now();
    const { alongside, subject } = await readSignInSubject(db, email, now, lockout.reserveQuery(email, now));
    const reserved = { failures: alongside.failures as number, locked_until: alongside.locked_until === null ? null : new Date(alongside.locked_until as string) };
    const attempt = lockout.stateAfterReserve(reserved, now);
    if (!attempt.locked || !trusted) return { attempt, counter: email, subject };
    return { attempt: await lockout.reserve(trusted), counter: trusted, subject };
  }

  /**
   * A named actor type must exist and allow passwords; checked first thing (no CAPTCHA, no
   * attempt counted, no user lookup, no hashing), read from PostgreSQL so policy edits apply at once.
   */
  private async assertPasswordAllowed(name: string): Promise<void> {
    const actorType = await actorTypesRepo.find(this.deps.db, name);
    if (actorType && actorPolicy.allowsMethod(actorType, 'password')) return;
    this.deps.metrics.loginAttempts.inc({ status: 'auth_method_not_allowed', role: actorType?.name ?? 'unknown' });
    throw new AppError('auth_method_not_allowed', { detail: `Signing in with a password is not allowed for the actor type '${name}'.` });
  }

  /** Before the password and before any attempt is counted: a CAPTCHA answer once the email has enough failures. */
  private async checkCaptcha(email: string, token: string | undefined, context: RequestContext): Promise<void> {
    const { captcha, lockout, metrics, settings } = this.deps;
    if (!captcha) return;
    const state = await lockout.peek(email);
    if (state.locked) {
      metrics.loginAttempts.inc({ status: 'account_locked', role: 'unknown' });
      throw accountLockedError(state.retryAfterSeconds);
    }
    if (state.failures < settings.captchaAfterFailures) return;
    if (token === undefined) {
      metrics.loginAttempts.inc({ status: 'captcha_required', role: 'unknown' });
      throw new AppError('captcha_required', { detail: 'After several failed attempts, a CAPTCHA answer (captcha_token) is required.', errors: [{ path: '/body/captcha_token', message: 'is required' }] });
    }
    if (!(await captcha.verify(token, { ip: context.ip, action: 'login' }))) {
      metrics.loginAttempts.inc({ status: 'captcha_invalid', role: 'unknown' });
      throw new AppError('captcha_invalid', { detail: 'The CAPTCHA answer was not accepted; solve it again.', errors: [{ path: '/body/captcha_token', message: 'was refused' }] });
    }
  }

  /**
   * A wrong password or an unknown email, counted on `counter` (the email's, or a trusted
   * device's): the audit row and, when it sets the lock, its audit row and the owner's email.
   * One statement (CTEs on the lockout's update), the same for a known and an unknown email.
   */
  private async recordFailure(email: string, counter: string, user: UserRow | undefined, context: RequestContext, why?: 'method_not_allowed'): Promise<void> {
    const { db, clock, lockout, settings } = this.deps;
    const reason = why ?? (!user ? 'unknown_email' : user.password_hash ? 'wrong_password' : 'no_password');
    const trustedDevice = counter !== email;
    const { write, until } = lockout.failedWrite(counter);
    const failed = auditRow(clock, { event: 'login.failed', userId: user?.id, identifier: email, context, details: { reason, ...(trustedDevice ? { trusted_device: true } : {}) } });
    const locked = auditRow(clock, { event: 'account.locked', userId: user?.id, identifier: email, context, details: { locked_until: until.toISOString(), ...(trustedDevice ? { trusted_device: true } : {}) } });
    const link = `${settings.appUrl}/reset-password`;
    // The owner is told once, when the account locks; a trusted device locking itself is its own business.
    const notice = outboxRow(clock, {
      channel: 'email',
      to: user?.email ?? email,
      template: 'account_locked',
      language: user?.language ?? 'en',
      params: { first_name: user?.first_name ?? '', until: until.toISOString().replace('T', ' ').slice(0, 16), link },
      data: { link },
    });
    const setsLock = db.raw('exists (select 1 from new_lock)');
    await db
      .with('new_lock', write)
      .with('failed_audit', insertWhere(db, 'audit_logs', failed, true))
      .with('locked_audit', insertWhere(db, 'audit_logs', locked, setsLock))
      .with('locked_notice', insertWhere(db, 'outbox_messages', notice, db.raw('? and exists (select 1 from new_lock)', [user !== undefined && !trustedDevice])))
      .select(setsLock);
  }
}

/**
 * A completed sign-in whose first factor was the password (directly, or after the second factor)
 * resets the email's failed-attempt count.
 */
export function lockoutReset(lockout: LoginLockout): SignInObserver {
  return {
    // In the statement that opens the session: no statement, and no lock held, of its own.
    writeOnSignIn(user, method) {
      return method === 'password' && user.email ? lockout.succeededWrite(normalizeEmail(user.email)) : undefined;
    },
  };
}
