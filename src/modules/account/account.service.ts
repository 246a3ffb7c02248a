import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Accepted, PasswordChangeRequest, PasswordResetConfirmRequest, ProfileUpdateRequest, RevokedSessions } from '../../../sdk/src/types.gen.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { deviceTrust } from '../../identity/device-trust.js';
import { emailVerification } from '../../identity/email-verification.js';
import { applyProfileChanges, profileChanges } from '../../identity/profile.js';
import type { Sessions } from '../../identity/sessions/sessions.js';
import { identifierOf, normalizeEmail, toUserDto, usersRepo, type UserDto, type UserRow } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { insertIf } from '../../infra/db.js';
import { enqueueMessage } from '../../infra/messages/outbox.js';
import type { Metrics } from '../../infra/metrics.js';
import { passwordPolicyViolations, type PasswordHasher } from '../../infra/passwords.js';
import { hashOpaqueToken, newOpaqueToken, type VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError, type FieldError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { accountGone } from '../../identity/sessions/session-errors.js';

/** The one answer to reset and resend requests, whether or not an account matches. */
export const acceptedAnswer: Accepted = { message: 'If an account matches, a message has been sent to it.' };

export const resetTokenTtlMs = 3600 * 1000;
/** At most this many reset or verification links per account per rolling hour. */
export const linksPerHour = 3;
const hourMs = 3600 * 1000;

interface ResetTokenRow {
  id: string;
  user_id: string;
  token_hash: string;
  expires_at: Date;
  used_at: Date | null;
}

export interface AccountSettings {
  appUrl: string;
}

/** Who acts on their own account: the access token's user and session. */
type Caller = Pick<VerifiedAccessToken, 'sub' | 'sid'>;

/** The policy's errors for a new password, reported on `new_password`. */
function newPasswordViolations(password: string, user: UserRow): FieldError[] {
  const context = [user.email?.split('@')[0] ?? '', user.first_name ?? '', user.last_name ?? ''];
  return passwordPolicyViolations(password, context).map((e) => ({ ...e, path: '/body/new_password' }));
}

function assertConfirmed(password: string, confirmation: string): void {
  if (password !== confirmation) {
    throw new AppError('password_mismatch', { detail: 'The passwords do not match.', errors: [{ path: '/body/new_password_confirm', message: 'must equal new_password' }] });
  }
}

function assertStrong(password: string, user: UserRow): void {
  const weak = newPasswordViolations(password, user);
  if (weak.length) throw new AppError('password_too_weak', { detail: 'The password does not meet the password policy.', errors: weak });
}

/** Who an email with no account would be (nothing is ever written for it). */
function unknownRecipient(email: string): Pick<UserRow, 'id' | 'email' | 'language' | 'first_name'> {
  return { id: randomUUID(), email: normalizeEmail(email), language: 'en', first_name: '' };
}

/** How many reset links were sent to the user in the last hour. */
async function resetLinksInLastHour(trx: Knex.Transaction, userId: string, now: Date): Promise<number> {
  const row = await trx('password_reset_tokens').where({ user_id: userId }).andWhere('created_at', '>', new Date(now.getTime() - hourMs)).count<{ count: string }[]>('* as count').first();
  return Number(row?.count ?? 0);
}

export interface AccountDeps {
  db: Knex;
  clock: Clock;
  hasher: PasswordHasher;
  sessions: Sessions;
  metrics: Metrics;
  settings: AccountSettings;
}

/** The signed-in user's own account: profile, password change, password reset, verification resend. */
export class AccountService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly hasher: PasswordHasher;
  private readonly sessions: Sessions;
  private readonly metrics: Metrics;
  private readonly settings: AccountSettings;

  constructor(deps: AccountDeps) {
    ({ db: this.db, clock: this.clock, hasher: this.hasher, sessions: this.sessions, metrics: this.metrics, settings: this.settings } = deps);
  }

  async profile(auth: { sub: string; actor_type: string }): Promise<UserDto> {
    this.metrics.profileRequests.inc({ role: auth.actor_type });
    // One statement: the user with the names of its actor types.
    const user = await usersRepo.findLiveByIdWithActorTypes(this.db, auth.sub, (id) => actorTypesRepo.heldNamesQuery(this.db, id));
    if (!user) throw accountGone();
    return toUserDto(user, user.actor_types);
  }

  /** Applies the patch; the audit row names the fields whose value changed (never the values). */
  async updateProfile(auth: Caller, patch: ProfileUpdateRequest, context: RequestContext): Promise<UserDto> {
    const requested = profileChanges(patch);
    const now = this.clock.now();
    const user = await this.db.transaction(async (trx) => {
      const current = await usersRepo.findLiveRecord(trx, auth.sub, { lock: true });
      if (!current) throw accountGone();
      const { user: updated, fields } = await applyProfileChanges(trx, current, requested, now);
      if (fields.length) {
        await recordAudit(trx, this.clock, { event: 'profile.updated', userId: current.id, sessionId: auth.sid, identifier: identifierOf(current), context, details: { fields } });
      }
      return updated;
    });
    this.metrics.profileUpdates.inc();
    return toUserDto(user, (await actorTypesRepo.heldBy(this.db, user.id)).map((a) => a.name));
  }

  /** Checks the current password, sets the new one and ends every other session of the user. */
  async changePassword(auth: Caller, body: PasswordChangeRequest, context: RequestContext): Promise<RevokedSessions> {
    try {
      const result = await this.applyPasswordChange(auth, body, context);
      this.metrics.passwordChanges.inc({ status: 'success' });
      return result;
    } catch (err) {
      this.metrics.passwordChanges.inc({ status: err instanceof AppError ? err.code : 'error' });
      throw err;
    }
  }

  private async applyPasswordChange(auth: Caller, body: PasswordChangeRequest, context: RequestContext): Promise<RevokedSessions> {
    const user = await usersRepo.findLiveById(this.db, auth.sub);
    if (!user) throw accountGone();
    assertConfirmed(body.new_password, body.new_password_confirm);
    assertStrong(body.new_password, user);
    const ok = user.password_hash ? await this.hasher.verify(user.password_hash, body.old_password) : await this.hasher.verifyDecoy(body.old_password);
    if (!ok) throw new AppError('invalid_current_password', { detail: 'The current password is wrong.' });
    if (body.new_password === body.old_password) throw new AppError('password_unchanged', { detail: 'The new password must differ from the current one.' });

    const passwordHash = await this.hasher.hash(body.new_password);
    const now = this.clock.now();
    const revoked = await this.sessions.transaction(async (trx) => {
      await usersRepo.update(trx, user.id, { password_hash: passwordHash, password_changed_at: now, updated_at: now });
      const ids = await this.sessions.revoke({ userId: user.id, exceptSessionId: auth.sid }, 'password_changed', trx);
      await deviceTrust.revokeAll(trx, user.id);
      await recordAudit(trx, this.clock, { event: 'password.changed', userId: user.id, sessionId: auth.sid, identifier: user.email, context, details: { revoked_sessions: ids.length } });
      await this.notifyPasswordChanged(trx, user, now);
      return ids;
    });
    return { revoked_sessions: revoked.length };
  }

  /**
   * Emails a one-hour reset link to a live account (at most 3 an hour); the answer never tells.
   * A known and an unknown email run the same statements (the writes are skipped, not left out),
   * so the time taken does not tell either.
   */
  async requestPasswordReset(email: string, context: RequestContext): Promise<Accepted> {
    this.metrics.passwordResetRequests.inc();
    await this.db.transaction(async (trx) => {
      const user = await usersRepo.lockLiveByEmail(trx, email);
      const now = this.clock.now();
      const recipient = user ?? unknownRecipient(email);
      const recent = await resetLinksInLastHour(trx, recipient.id, now);
      const send = user !== undefined && recent < linksPerHour;
      const { token, hash } = newOpaqueToken();
      await insertIf(trx, 'password_reset_tokens', { user_id: recipient.id, token_hash: hash, expires_at: new Date(now.getTime() + resetTokenTtlMs), created_at: now }, send);
      const link = `${this.settings.appUrl}/reset-password?token=${encodeURIComponent(token)}`;
      await enqueueMessage(
        trx,
        this.clock,
        { channel: 'email', to: recipient.email!, template: 'password_reset', language: recipient.language, params: { first_name: recipient.first_name ?? '', link }, data: { token, link } },
        { when: send },
      );
      await recordAudit(trx, this.clock, { event: 'password.reset_requested', userId: recipient.id, identifier: recipient.email, context }, { when: send });
    });
    return acceptedAnswer;
  }

  /** Sets a new password with a reset token; every session of the user ends. */
  async confirmPasswordReset(body: PasswordResetConfirmRequest, context: RequestContext): Promise<void> {
    try {
      assertConfirmed(body.new_password, body.new_password_confirm);
      await this.sessions.transaction((trx) => this.applyPasswordReset(trx, body, context));
      this.metrics.passwordResetCompletions.inc({ status: 'success' });
    } catch (err) {
      this.metrics.passwordResetCompletions.inc({ status: err instanceof AppError ? err.code : 'error' });
      throw err;
    }
  }

  /** Inside one transaction: any throw rolls back, so a refused password leaves the token usable. */
  private async applyPasswordReset(trx: Knex.Transaction, body: PasswordResetConfirmRequest, context: RequestContext): Promise<void> {
    const now = this.clock.now();
    const token = await trx<ResetTokenRow>('password_reset_tokens').where({ token_hash: hashOpaqueToken(body.token) }).forUpdate().first();
    if (!token || token.used_at) throw new AppError('reset_token_invalid', { detail: 'This reset link is not valid (it may have been used already).' });
    if (token.expires_at <= now) throw new AppError('reset_token_expired', { detail: 'This reset link has expired; ask for a new one.' });
    const user = await usersRepo.findLiveById(trx, token.user_id);
    if (!user) throw new AppError('reset_token_invalid', { detail: 'This reset link is not valid.' });
    assertStrong(body.new_password, user);

    // This token and every other outstanding link of the user die together.
    await trx('password_reset_tokens').where({ user_id: user.id }).whereNull('used_at').update({ used_at: now });
    const pending = user.status === 'pending_verification';
    await usersRepo.update(trx, user.id, {
      password_hash: await this.hasher.hash(body.new_password),
      password_changed_at: now,
      updated_at: now,
      // The emailed link proved the address.
      ...(pending ? { status: 'active' as const, email_verified_at: user.email_verified_at ?? now } : {}),
    });
    const revoked = await this.sessions.revoke({ userId: user.id }, 'password_reset', trx);
    await deviceTrust.revokeAll(trx, user.id);
    await recordAudit(trx, this.clock, { event: 'password.reset', userId: user.id, identifier: user.email, context, details: { revoked_sessions: revoked.length } });
    await this.notifyPasswordChanged(trx, user, now);
  }

  /**
   * A new verification link for an account still pending verification (at most 3 an hour). Any
   * other email (unknown, already verified) runs the same statements, writing nothing.
   */
  async resendVerification(email: string): Promise<Accepted> {
    this.metrics.verificationResends.inc();
    await this.db.transaction(async (trx) => {
      const user = await usersRepo.lockLiveByEmail(trx, email);
      const recipient = user ?? unknownRecipient(email);
      const recent = await emailVerification.sentInLastHour(trx, recipient.id, this.clock.now());
      const send = user?.status === 'pending_verification' && recent < linksPerHour;
      await emailVerification.send(trx, this.clock, this.settings.appUrl, recipient, { when: send });
    });
    return acceptedAnswer;
  }

  private async notifyPasswordChanged(trx: Knex.Transaction, user: UserRow, now: Date): Promise<void> {
    if (!user.email) return;
    const link = `${this.settings.appUrl}/reset-password`;
    await enqueueMessage(trx, this.clock, {
      channel: 'email',
      to: user.email,
      template: 'password_changed',
      language: user.language,
      params: { first_name: user.first_name ?? '', time: now.toISOString().replace('T', ' ').slice(0, 16), link },
      data: { link },
    });
  }
}
