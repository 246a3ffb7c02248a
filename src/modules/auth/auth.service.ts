import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { MfaChallenge } from '../../../sdk/src/types.gen.js';
import type { Clock } from '../../infra/clock.js';
import { enqueueMessage } from '../../infra/messages/outbox.js';
import type { Language } from '../../infra/messages/templates.js';
import type { Metrics } from '../../infra/metrics.js';
import type { PasswordHasher } from '../../infra/passwords.js';
import { hashOpaqueToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import { challengeForLogin } from '../mfa/mfa-challenges.js';
import { syncQuotas } from '../quotas/quota-sync.js';
import { grantRoleByName } from '../rbac/access.js';
import type { Sessions, TokenPair } from '../sessions/sessions.service.js';
import { recordAudit, type RequestContext } from '../audit/audit.js';
import type { CaptchaVerifier } from './captcha.js';
import { accountLockedError, type LoginLockout } from './lockout.js';
import { checkSignup } from './signup-rules.js';
import { sendVerificationEmail } from './verification.js';
import { normalizeEmail, toUserDto, usersRepo, type ActorTypeRow, type UserDto, type UserRow } from '../users/users.repo.js';

export interface RegisterInput {
  email: string;
  password: string;
  password_confirm: string;
  first_name: string;
  last_name: string;
  phone?: string;
  user_type?: string;
  accept_terms: boolean;
  language?: Language;
}

export interface LoginInput {
  email: string;
  password: string;
  remember_me?: boolean;
  actor_type?: string;
  device?: { name?: string; type?: string };
  captcha_token?: string;
}


export interface AuthSettings {
  appUrl: string;
  defaultActorType: string;
  revealExistingEmail: boolean;
  /** Failed logins (of an email) from which a CAPTCHA answer is needed, when a verifier exists. */
  captchaAfterFailures: number;
}

export type LoginResult = (TokenPair & { user: UserDto }) | MfaChallenge;

const invalidCredentials = () => new AppError('invalid_credentials', { detail: 'The email or the password is wrong.' });

/** The account slice: register, verify email, log in, refresh, log out, read the profile. */
export class AuthService {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    private readonly hasher: PasswordHasher,
    private readonly sessions: Sessions,
    private readonly metrics: Metrics,
    private readonly settings: AuthSettings,
    private readonly lockout: LoginLockout,
    private readonly captcha?: CaptchaVerifier,
  ) {}

  async register(input: RegisterInput, context: RequestContext): Promise<{ user: UserDto; verification_email_sent: true }> {
    const stopTimer = this.metrics.registerDuration.startTimer();
    try {
      return await this.createAccount(input, context);
    } catch (err) {
      if (err instanceof AppError) this.metrics.registerErrors.inc({ error_type: err.code });
      throw err;
    } finally {
      stopTimer();
    }
  }

  private async createAccount(input: RegisterInput, context: RequestContext): Promise<{ user: UserDto; verification_email_sent: true }> {
    const actorType = await checkSignup(this.db, input, this.settings.defaultActorType);

    const email = normalizeEmail(input.email);
    const language = input.language ?? 'en';
    // Hash before looking the email up, so both answers cost the same.
    const passwordHash = await this.hasher.hash(input.password);
    const now = this.clock.now();
    try {
      const user = await this.db.transaction(async (trx) => {
        const existing = await usersRepo.findLiveByEmail(trx, email);
        if (existing) return { existing };
        const row = await usersRepo.insert(trx, {
          email,
          phone: input.phone ?? null,
          password_hash: passwordHash,
          first_name: input.first_name,
          last_name: input.last_name,
          language,
          status: 'pending_verification',
          terms_accepted_at: now,
          created_at: now,
          updated_at: now,
        });
        await usersRepo.grantActorType(trx, row.id, actorType.name);
        await grantRoleByName(trx, row.id, 'free', { now });
        await syncQuotas(trx, row.id, now);
        await recordAudit(trx, this.clock, { event: 'user.registered', userId: row.id, identifier: email, context, details: { user_type: actorType.name } });
        await sendVerificationEmail(trx, this.clock, this.settings.appUrl, row);
        return { created: row };
      });
      if ('created' in user && user.created) {
        this.metrics.registerAttempts.inc({ status: 'success', user_type: actorType.name });
        return { user: toUserDto(user.created, [actorType.name]), verification_email_sent: true };
      }
      return await this.answerExisting(user.existing!, input, actorType.name, language, now);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') {
        // A concurrent registration of the same email won the race.
        const existing = await usersRepo.findLiveByEmail(this.db, email);
        if (existing) return this.answerExisting(existing, input, actorType.name, language, now);
      }
      throw err;
    }
  }

  /** Existing email: 409 when configured to reveal it, else the same answer as a new account. */
  private async answerExisting(existing: UserRow, input: RegisterInput, userType: string, language: Language, now: Date) {
    this.metrics.registerAttempts.inc({ status: 'existing_email', user_type: userType });
    if (this.settings.revealExistingEmail) {
      throw new AppError('email_already_registered', { detail: 'An account already exists with this email.' });
    }
    await enqueueMessage(this.db, this.clock, {
      channel: 'email',
      to: existing.email!,
      template: 'account_exists',
      language: existing.language,
      params: { first_name: existing.first_name ?? '', link: `${this.settings.appUrl}/login` },
      data: { link: `${this.settings.appUrl}/login` },
    });
    const lookalike: UserRow = {
      id: randomUUID(),
      email: normalizeEmail(input.email),
      phone: input.phone ?? null,
      password_hash: null,
      first_name: input.first_name,
      last_name: input.last_name,
      display_name: null,
      language,
      avatar_url: null,
      status: 'pending_verification',
      email_verified_at: null,
      is_guest: false,
      analytics_consent: false,
      marketing_consent: false,
      password_changed_at: null,
      mfa_enabled_at: null,
      created_at: now,
      updated_at: now,
      deleted_at: null,
    };
    return { user: toUserDto(lookalike, [userType]), verification_email_sent: true as const };
  }

  async verifyEmail(token: string, context: RequestContext): Promise<UserDto> {
    const now = this.clock.now();
    const result = await this.db.transaction(async (trx) => {
      const row = await trx('email_verification_tokens').where({ token_hash: hashOpaqueToken(token) }).forUpdate().first();
      if (!row || row.used_at) throw new AppError('verification_token_invalid', { detail: 'This verification link is not valid (it may have been used already).' });
      if (row.expires_at <= now) throw new AppError('verification_token_expired', { detail: 'This verification link has expired; ask for a new one.' });
      const user = await usersRepo.findLiveById(trx, row.user_id);
      if (!user) throw new AppError('verification_token_invalid', { detail: 'This verification link is not valid.' });
      await trx('email_verification_tokens').where({ id: row.id }).update({ used_at: now });
      const updated = await usersRepo.update(trx, user.id, {
        email_verified_at: user.email_verified_at ?? now,
        status: user.status === 'pending_verification' ? 'active' : user.status,
        updated_at: now,
      });
      await recordAudit(trx, this.clock, { event: 'email.verified', userId: user.id, identifier: user.email, context });
      return { user: updated, actorTypes: (await usersRepo.actorTypesOf(trx, user.id)).map((a) => a.name) };
    });
    this.metrics.emailVerifications.inc({ status: 'success' });
    return toUserDto(result.user, result.actorTypes);
  }

  /**
   * Tokens, or an MFA challenge (no tokens) when the user has 2FA on or the actor type requires it.
   * The actor type's policy comes before credentials: a named type that does not allow passwords
   * is refused before anything else (the answer does not depend on the account). Unknown emails,
   * and accounts holding no type that allows passwords, go through the same steps as wrong
   * passwords (CAPTCHA threshold, attempt reservation, one argon2 verification, failure record),
   * so the answer reveals nothing.
   */
  async login(input: LoginInput, context: RequestContext): Promise<LoginResult> {
    const stopTimer = this.metrics.loginDuration.startTimer();
    try {
      if (input.actor_type !== undefined) await this.assertPasswordAllowed(input.actor_type);
      const email = normalizeEmail(input.email);
      await this.checkCaptcha(email, input.captcha_token, context);
      const attempt = await this.lockout.reserve(email);
      if (attempt.locked) {
        this.metrics.loginAttempts.inc({ status: 'account_locked', role: 'unknown' });
        throw accountLockedError(attempt.retryAfterSeconds);
      }
      const user = await usersRepo.findLiveByEmail(this.db, email);
      const held = user ? await usersRepo.actorTypesOf(this.db, user.id) : [];
      // Strictest first: the default acting type is the first of these.
      const passwordTypes = held.filter((a) => a.allowed_methods.includes('password'));
      const methodAllowed = passwordTypes.length > 0;
      // Without an allowed method the real hash is not touched: the decoy costs the same.
      const ok = user?.password_hash && methodAllowed ? await this.hasher.verify(user.password_hash, input.password) : await this.hasher.verifyDecoy(input.password);
      if (!user || !ok) {
        await this.recordFailure(email, user, context, user && !methodAllowed ? 'method_not_allowed' : undefined);
        this.metrics.loginAttempts.inc({ status: 'invalid_credentials', role: 'unknown' });
        throw invalidCredentials();
      }
      let result: LoginResult;
      try {
        const actorType = input.actor_type === undefined ? passwordTypes[0] : held.find((a) => a.name === input.actor_type);
        result = await this.afterPassword(user, held, actorType, input, context);
      } catch (err) {
        await this.lockout.release(email);
        throw err;
      }
      // Only tokens prove the sign-in: a login paused for a second factor stays counted (so
      // guessing codes behind a known password still meets the lockout) until /2fa/verify or the
      // enrolment finishes it, which resets the count.
      if (!('mfa_required' in result)) await this.lockout.succeeded(email);
      return result;
    } finally {
      stopTimer();
    }
  }

  /**
   * A named actor type must exist and allow passwords; checked first thing (no CAPTCHA, no
   * attempt counted, no user lookup, no hashing), read from PostgreSQL so policy edits apply at once.
   */
  private async assertPasswordAllowed(name: string): Promise<void> {
    const actorType = await usersRepo.findActorType(this.db, name);
    if (actorType?.allowed_methods.includes('password')) return;
    this.metrics.loginAttempts.inc({ status: 'auth_method_not_allowed', role: actorType?.name ?? 'unknown' });
    throw new AppError('auth_method_not_allowed', { detail: `Signing in with a password is not allowed for the actor type '${name}'.` });
  }

  /** Before the password and before any attempt is counted: a CAPTCHA answer once the email has enough failures. */
  private async checkCaptcha(email: string, token: string | undefined, context: RequestContext): Promise<void> {
    if (!this.captcha) return;
    const state = await this.lockout.peek(email);
    if (state.locked) {
      this.metrics.loginAttempts.inc({ status: 'account_locked', role: 'unknown' });
      throw accountLockedError(state.retryAfterSeconds);
    }
    if (state.failures < this.settings.captchaAfterFailures) return;
    if (token === undefined) {
      this.metrics.loginAttempts.inc({ status: 'captcha_required', role: 'unknown' });
      throw new AppError('captcha_required', { detail: 'After several failed attempts, a CAPTCHA answer (captcha_token) is required.', errors: [{ path: '/body/captcha_token', message: 'is required' }] });
    }
    if (!(await this.captcha.verify(token, { ip: context.ip, action: 'login' }))) {
      this.metrics.loginAttempts.inc({ status: 'captcha_invalid', role: 'unknown' });
      throw new AppError('captcha_invalid', { detail: 'The CAPTCHA answer was not accepted; solve it again.', errors: [{ path: '/body/captcha_token', message: 'was refused' }] });
    }
  }

  /** A wrong password or an unknown email: the audit row and, when it sets the lock, the owner's email and its audit row. */
  private async recordFailure(email: string, user: UserRow | undefined, context: RequestContext, why?: 'method_not_allowed'): Promise<void> {
    const reason = why ?? (!user ? 'unknown_email' : user.password_hash ? 'wrong_password' : 'no_password');
    await this.db.transaction(async (trx) => {
      await recordAudit(trx, this.clock, { event: 'login.failed', userId: user?.id, identifier: email, context, details: { reason } });
      const lockedUntil = await this.lockout.failed(trx, email);
      if (!lockedUntil) return;
      await recordAudit(trx, this.clock, { event: 'account.locked', userId: user?.id, identifier: email, context, details: { locked_until: lockedUntil.toISOString() } });
      if (!user) return;
      const link = `${this.settings.appUrl}/reset-password`;
      await enqueueMessage(trx, this.clock, {
        channel: 'email',
        to: user.email!,
        template: 'account_locked',
        language: user.language,
        params: { first_name: user.first_name ?? '', until: lockedUntil.toISOString().replace('T', ' ').slice(0, 16), link },
        data: { link },
      });
    });
  }

  /** The password is right: account state, the acting type (undefined: not held), then tokens or an MFA challenge. */
  private async afterPassword(user: UserRow, held: ActorTypeRow[], actorType: ActorTypeRow | undefined, input: LoginInput, context: RequestContext): Promise<LoginResult> {
    const role = actorType?.name ?? 'unknown';
    if (user.status === 'pending_verification') {
      this.metrics.loginAttempts.inc({ status: 'email_not_verified', role });
      throw new AppError('email_not_verified', { detail: 'Verify your email address before logging in.' });
    }
    if (user.status === 'suspended') {
      this.metrics.loginAttempts.inc({ status: 'account_suspended', role });
      throw new AppError('account_suspended', { detail: 'This account is suspended.' });
    }
    if (!actorType || !actorType.allowed_methods.includes('password')) {
      this.metrics.loginAttempts.inc({ status: 'actor_type_not_held', role });
      throw new AppError('actor_type_not_held', { detail: 'This account cannot sign in with a password as this actor type.' });
    }
    if (this.hasher.needsRehash(user.password_hash!)) {
      await usersRepo.update(this.db, user.id, { password_hash: await this.hasher.hash(input.password) });
    }
    const rememberMe = input.remember_me ?? true;
    const challenge = await challengeForLogin(this.db, this.clock, { user, actorType, secondFactorRequired: held.some((a) => a.require_2fa), rememberMe, device: input.device, ip: context.ip, userAgent: context.userAgent });
    if (challenge) {
      this.metrics.loginAttempts.inc({ status: 'mfa_required', role });
      return challenge;
    }
    const { tokens } = await this.sessions.open({
      user,
      actorType,
      authMethod: 'password',
      amr: ['pwd'],
      rememberMe,
      device: input.device,
      ip: context.ip,
      userAgent: context.userAgent,
      heldActorTypes: held,
    });
    this.metrics.loginAttempts.inc({ status: 'success', role });
    return { ...tokens, user: toUserDto(user, held.map((a) => a.name)) };
  }

  async refresh(refreshToken: string, context: RequestContext): Promise<TokenPair> {
    try {
      const tokens = await this.sessions.refresh(refreshToken, context);
      this.metrics.refreshTotal.inc({ status: 'success' });
      return tokens;
    } catch (err) {
      this.metrics.refreshTotal.inc({ status: err instanceof AppError ? err.code : 'error' });
      throw err;
    }
  }

  async logout(auth: { sub: string; sid: string }, allDevices: boolean, context: RequestContext): Promise<void> {
    const target = allDevices ? { userId: auth.sub } : { sessionIds: [auth.sid] };
    const revoked = await this.db.transaction(async (trx) => {
      const ids = await this.sessions.revoke(target, 'logout', trx);
      const user = await usersRepo.findLiveById(trx, auth.sub);
      await recordAudit(trx, this.clock, { event: 'logout', userId: auth.sub, sessionId: auth.sid, identifier: user?.email, context, details: { all_devices: allDevices } });
      return ids;
    });
    await this.sessions.markRevoked(revoked);
    this.metrics.logoutTotal.inc({ type: allDevices ? 'all_devices' : 'manual' });
  }

  async profile(auth: { sub: string; actor_type: string }): Promise<UserDto> {
    this.metrics.profileRequests.inc({ role: auth.actor_type });
    const user = await usersRepo.findLiveById(this.db, auth.sub);
    if (!user) throw new AppError('session_revoked', { detail: 'The account no longer exists.' });
    return toUserDto(user, (await usersRepo.actorTypesOf(this.db, user.id)).map((a) => a.name));
  }
}
