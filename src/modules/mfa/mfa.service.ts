import type { Knex } from 'knex';
import type { BackupCodes, LoginSuccess, TwoFactorEnabled, TwoFactorSetup } from '../../../sdk/src/types.gen.js';
import type { Enrolment } from '../../http/authenticate.js';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { parseAuthMethod, withSecondFactor } from '../../identity/auth-method.js';
import { notifyUser } from '../../identity/notify.js';
import { loginAnswer, type SignInPipeline } from '../../identity/sign-in.js';
import { identifierOf, usersRepo, type UserRow } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import type { KeyEncryption } from '../../infra/keys.js';
import type { Metrics } from '../../infra/metrics.js';
import type { PasswordHasher } from '../../infra/passwords.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { backupCodesRepo } from './backup-codes.js';
import { mfaChallenges, type MfaChallengeRow } from './mfa-challenges.js';
import { matchingStep, newTotpSecret, otpauthUrl, qrCodeDataUrl } from './totp.js';
import { totpRepo, type UserTotpRow } from './totp.repo.js';
import { accountGone, assertNotSuspended } from '../../identity/sessions/session-errors.js';

export interface MfaSettings {
  appUrl: string;
  issuer: string;
}

export interface VerifyInput {
  mfa_token: string;
  code?: string;
  backup_code?: string;
}

type Codes = BackupCodes['backup_codes'];

type FactorMethod = 'totp' | 'backup_code';

/** Who acts with a full session: the access token's user and session. */
type Caller = Pick<VerifiedAccessToken, 'sub' | 'sid'>;

/** A wrong second factor, as its `mfa.failed` audit row records it. */
interface WrongFactor {
  method: FactorMethod;
  stage: 'verify' | 'confirm' | 'disable';
  /** The challenge that counts the attempt, when the code answered one. */
  challengeId?: string;
  sessionId?: string;
}

/** A 6-digit code is a TOTP code, anything else a backup code. */
const methodOf = (code: string): FactorMethod => (/^[0-9]{6}$/.test(code) ? 'totp' : 'backup_code');

/** Thrown inside a transaction to roll it back when the second factor is wrong. */
class WrongCode extends Error {}

const wrongCode = () => new AppError('invalid_mfa_code', { detail: 'The code is wrong.' });

export interface MfaDeps {
  db: Knex;
  clock: Clock;
  hasher: PasswordHasher;
  metrics: Metrics;
  /** KeyEncryption with the 'sesame-totp-secrets' context: secrets rest only encrypted. */
  secrets: KeyEncryption;
  /** Finishes the sign-in a challenge paused. */
  signIn: SignInPipeline;
  settings: MfaSettings;
}

/** TOTP two-factor authentication: enrolment, the second step of sign-in, removal, backup codes. */
export class MfaService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly hasher: PasswordHasher;
  private readonly metrics: Metrics;
  private readonly secrets: KeyEncryption;
  private readonly signIn: SignInPipeline;
  private readonly settings: MfaSettings;

  constructor(deps: MfaDeps) {
    ({ db: this.db, clock: this.clock, hasher: this.hasher, metrics: this.metrics, secrets: this.secrets, signIn: this.signIn, settings: this.settings } = deps);
  }

  /** Starts (or restarts) enrolment with a new secret; nothing is enabled yet. */
  async enable(who: Enrolment): Promise<TwoFactorSetup> {
    const user = await this.liveUser(who.userId);
    if (user.mfa_enabled_at) throw new AppError('mfa_already_enabled', { detail: 'Two-factor authentication is already on.' });
    const secret = newTotpSecret();
    if (!(await totpRepo.savePending(this.db, user.id, this.secrets.encrypt(secret), this.clock.now()))) {
      throw new AppError('mfa_already_enabled', { detail: 'Two-factor authentication is already on.' });
    }
    const url = otpauthUrl(secret, this.settings.issuer, user.email ?? user.phone ?? user.id);
    return { secret, otpauth_url: url, qr_code: await qrCodeDataUrl(url) };
  }

  /**
   * Enables 2FA with a first code: in one transaction the secret is confirmed, backup codes are
   * made and the owner is emailed. With a setup token, the paused login also completes.
   * `sessionId` is the caller's session (none with a setup token).
   */
  async confirm(who: Enrolment, code: string, context: RequestContext, sessionId?: string): Promise<TwoFactorEnabled> {
    const user = await this.liveUser(who.userId);
    const now = this.clock.now();
    const outcome = await this.db.transaction(async (trx) => {
      const totp = await totpRepo.find(trx, user.id, { lock: true });
      if (!totp) throw new AppError('mfa_setup_not_started', { detail: 'Start enrolment with /2fa/enable first.' });
      if (totp.confirmed_at) throw new AppError('mfa_already_enabled', { detail: 'Two-factor authentication is already on.' });
      if (!(await this.totpAccepts(trx, totp, code, now))) return { wrong: true as const };
      const challenge = who.setupChallengeId ? await mfaChallenges.consume(trx, who.setupChallengeId, now) : undefined;
      if (who.setupChallengeId && !challenge) throw new AppError('mfa_token_invalid', { detail: 'The MFA token has expired or was used; log in again.' });
      await totpRepo.confirm(trx, user.id, now);
      const enabled = await usersRepo.update(trx, user.id, { mfa_enabled_at: now, updated_at: now });
      const codes = await backupCodesRepo.replace(trx, user.id, now);
      await this.notify(trx, enabled, 'mfa_enabled', now);
      await recordAudit(trx, this.clock, { event: 'mfa.enabled', userId: user.id, sessionId, identifier: identifierOf(user), context });
      return { wrong: false as const, enabled, codes, challenge };
    });
    if (outcome.wrong) {
      this.metrics.mfaVerifications.inc({ method: 'totp', status: 'invalid_mfa_code' });
      throw await this.recordWrongCode(user, { method: 'totp', stage: 'confirm', challengeId: who.setupChallengeId, sessionId }, context, now);
    }
    this.metrics.mfaVerifications.inc({ method: 'totp', status: 'success' });
    this.metrics.mfaChanges.inc({ action: 'enabled' });
    const backup_codes = outcome.codes as Codes;
    return outcome.challenge ? { backup_codes, login: await this.finishLogin(outcome.enabled, outcome.challenge) } : { backup_codes };
  }

  /** The second step of a paused login: exactly one of a TOTP code and a backup code. */
  async verify(input: VerifyInput, context: RequestContext): Promise<LoginSuccess> {
    if ((input.code === undefined) === (input.backup_code === undefined)) {
      throw new AppError('validation_failed', { detail: 'Send exactly one of code and backup_code.', errors: [{ path: '/body', message: 'must have exactly one of code, backup_code' }] });
    }
    const method = input.code !== undefined ? 'totp' : 'backup_code';
    try {
      const session = await this.verifyFactor(input, method, context);
      this.metrics.mfaVerifications.inc({ method, status: 'success' });
      return session;
    } catch (err) {
      this.metrics.mfaVerifications.inc({ method, status: err instanceof AppError ? err.code : 'error' });
      throw err;
    }
  }

  private async verifyFactor(input: VerifyInput, method: FactorMethod, context: RequestContext): Promise<LoginSuccess> {
    const now = this.clock.now();
    const challenge = await mfaChallenges.open(this.db, input.mfa_token, 'login', now);
    const user = await usersRepo.findLiveById(this.db, challenge.user_id);
    if (!user) throw new AppError('mfa_token_invalid', { detail: 'The MFA token is not valid; log in again.' });
    assertNotSuspended(user);
    // The challenge is consumed and the factor used up together: a wrong code rolls both back.
    const outcome = await this.db
      .transaction(async (trx) => {
        const consumed = await mfaChallenges.consume(trx, challenge.id, now);
        if (!consumed) return undefined;
        const ok = method === 'totp' ? await this.confirmedTotpAccepts(trx, user.id, input.code!, now) : await backupCodesRepo.consume(trx, user.id, input.backup_code!, now);
        if (!ok) throw new WrongCode();
        return consumed;
      })
      .catch((err: unknown) => {
        if (err instanceof WrongCode) return 'wrong' as const;
        throw err;
      });
    if (outcome === 'wrong') throw await this.recordWrongCode(user, { method, stage: 'verify', challengeId: challenge.id }, context, now);
    if (!outcome) {
      // Another request ended the challenge meanwhile (a right code, the last wrong one, expiry).
      await mfaChallenges.open(this.db, input.mfa_token, 'login', now);
      throw new AppError('mfa_token_invalid', { detail: 'The MFA token has already been used; log in again.' });
    }
    return this.finishLogin(user, outcome);
  }

  /** Turns 2FA off: password and a TOTP or backup code; refused when an actor type requires it. */
  async disable(auth: Caller, password: string, code: string, context: RequestContext): Promise<void> {
    const user = await this.liveUser(auth.sub);
    await this.checkPassword(user, password);
    if (!user.mfa_enabled_at) throw new AppError('mfa_not_enabled', { detail: 'Two-factor authentication is off.' });
    const held = await actorTypesRepo.heldBy(this.db, user.id);
    if (actorPolicy.requiresSecondFactor(held)) {
      throw new AppError('mfa_required_by_policy', { detail: 'An account type of this user requires two-factor authentication.' });
    }
    const now = this.clock.now();
    const done = await this.db.transaction(async (trx) => {
      if (!(await this.factorAccepts(trx, user.id, code, now))) return false;
      await totpRepo.remove(trx, user.id);
      await backupCodesRepo.removeAll(trx, user.id);
      const disabled = await usersRepo.update(trx, user.id, { mfa_enabled_at: null, updated_at: now });
      await this.notify(trx, disabled, 'mfa_disabled', now);
      await recordAudit(trx, this.clock, { event: 'mfa.disabled', userId: user.id, sessionId: auth.sid, identifier: identifierOf(user), context });
      return true;
    });
    if (!done) throw await this.recordWrongCode(user, { method: methodOf(code), stage: 'disable', sessionId: auth.sid }, context, now);
    this.metrics.mfaChanges.inc({ action: 'disabled' });
  }

  /** New backup codes (the old ones die); password required. */
  async regenerateBackupCodes(auth: Caller, password: string, context: RequestContext): Promise<BackupCodes> {
    const user = await this.liveUser(auth.sub);
    await this.checkPassword(user, password);
    if (!user.mfa_enabled_at) throw new AppError('mfa_not_enabled', { detail: 'Two-factor authentication is off.' });
    const now = this.clock.now();
    const codes = await this.db.transaction(async (trx) => {
      const fresh = await backupCodesRepo.replace(trx, user.id, now);
      await recordAudit(trx, this.clock, { event: 'mfa.backup_codes_regenerated', userId: user.id, sessionId: auth.sid, identifier: identifierOf(user), context });
      return fresh;
    });
    this.metrics.mfaChanges.inc({ action: 'backup_codes_regenerated' });
    return { backup_codes: codes as Codes };
  }

  /**
   * Finishes the sign-in a challenge paused, through the sign-in pipeline: the session records
   * the challenge's first factor (its method and amr) plus `otp`, with the sign-in's context.
   */
  private async finishLogin(user: UserRow, challenge: MfaChallengeRow): Promise<LoginSuccess> {
    const method = parseAuthMethod(challenge.auth_method);
    const held = await actorTypesRepo.heldBy(this.db, user.id);
    if (!actorPolicy.actingType(held, method, challenge.actor_type)) {
      throw new AppError('mfa_token_invalid', { detail: 'The account no longer holds the actor type of this login; log in again.' });
    }
    const device = challenge.device_name || challenge.device_type ? { name: challenge.device_name ?? undefined, type: challenge.device_type ?? undefined } : undefined;
    const result = await this.signIn.completeWithoutChallenge({
      user,
      method,
      amr: withSecondFactor(challenge.amr),
      actorType: challenge.actor_type,
      held,
      rememberMe: challenge.remember_me,
      device,
      deviceId: challenge.device_id ?? undefined,
      deviceRef: challenge.device_ref ?? undefined,
      context: { ip: challenge.ip ?? undefined, userAgent: challenge.user_agent ?? undefined },
      // A password sign-in completed with its second factor makes the device trusted, as one without.
      trustDevice: true,
    });
    return loginAnswer(result) as LoginSuccess;
  }

  private async factorAccepts(trx: Knex, userId: string, code: string, now: Date): Promise<boolean> {
    return methodOf(code) === 'totp' ? this.confirmedTotpAccepts(trx, userId, code, now) : backupCodesRepo.consume(trx, userId, code, now);
  }

  /**
   * A wrong code changes nothing but is recorded: the challenge's attempt count (when it
   * answered one) and the `mfa.failed` row, in one transaction. Returns the error to answer.
   */
  private async recordWrongCode(user: UserRow, wrong: WrongFactor, context: RequestContext, now: Date): Promise<AppError> {
    return this.db.transaction(async (trx) => {
      const error = wrong.challengeId ? await mfaChallenges.recordFailure(trx, wrong.challengeId, now) : wrongCode();
      await recordAudit(trx, this.clock, {
        event: 'mfa.failed',
        userId: user.id,
        sessionId: wrong.sessionId,
        identifier: identifierOf(user),
        context,
        details: { method: wrong.method, stage: wrong.stage },
      });
      return error;
    });
  }

  private async confirmedTotpAccepts(trx: Knex, userId: string, code: string, now: Date): Promise<boolean> {
    const totp = await totpRepo.find(trx, userId);
    return totp?.confirmed_at ? this.totpAccepts(trx, totp, code, now) : false;
  }

  /** A right code for a step later than any accepted before (the step is then used up). */
  private async totpAccepts(trx: Knex, totp: UserTotpRow, code: string, now: Date): Promise<boolean> {
    const step = matchingStep(this.secrets.decrypt(totp.secret_encrypted), code, now);
    return step !== undefined && (await totpRepo.claimStep(trx, totp.user_id, step));
  }

  private async checkPassword(user: UserRow, password: string): Promise<void> {
    const ok = user.password_hash ? await this.hasher.verify(user.password_hash, password) : await this.hasher.verifyDecoy(password);
    if (!ok) throw new AppError('invalid_current_password', { detail: 'The password is wrong.' });
  }

  private async liveUser(userId: string): Promise<UserRow> {
    const user = await usersRepo.findLiveById(this.db, userId);
    if (!user) throw accountGone();
    assertNotSuspended(user);
    return user;
  }

  private async notify(trx: Knex, user: UserRow, template: 'mfa_enabled' | 'mfa_disabled', now: Date): Promise<void> {
    await notifyUser(trx, this.clock, user, template, { time: now.toISOString().replace('T', ' ').slice(0, 16) }, `${this.settings.appUrl}/reset-password`);
  }
}
