import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { enqueueMessage } from '../../infra/messages/outbox.js';
import type { Language } from '../../infra/messages/templates.js';
import type { Metrics } from '../../infra/metrics.js';
import { AppError } from '../../shared/errors.js';
import type { ParsedPhone } from '../../shared/phone.js';
import type { RequestContext } from '../../shared/request-context.js';
import { newCode, type CodeDigest } from './code-digest.js';
import { phoneVerificationsRepo as repo, type PhoneVerificationRow, type VerificationPurpose } from './phone-verifications.repo.js';
import type { SmsBudget } from './sms-budget.js';

/** How long a code lives, and how many wrong codes kill it. */
export const codeLifetimeSeconds = 15 * 60;
export const maxCodeAttempts = 5;

export interface PhoneVerificationDeps {
  db: Knex;
  clock: Clock;
  digest: CodeDigest;
  budget: SmsBudget;
  metrics: Pick<Metrics, 'smsCodesSent' | 'smsCodesVerified' | 'smsCodesFailed' | 'smsBudgetRefusals'>;
}

export const verificationInvalid = (detail = 'This phone verification is not valid; request a new code.') => new AppError('phone_verification_invalid', { detail });
const verificationExpired = () => new AppError('phone_verification_expired', { detail: 'The code has expired; request a new one.' });
const attemptsExceeded = (row: PhoneVerificationRow, now: Date) => {
  const seconds = Math.max(1, Math.ceil((row.expires_at.getTime() - now.getTime()) / 1000));
  return new AppError('phone_code_attempts_exceeded', { detail: `Too many wrong codes for this number; retry in ${seconds} seconds.`, headers: { 'Retry-After': String(seconds) } });
};

/**
 * Codes sent by SMS (README "Phone sign-in"): 6 random digits kept as a keyed digest in
 * PostgreSQL, valid 15 minutes, dead after 5 wrong codes, confirmed once and then used once by
 * the flow of their purpose. A number and purpose has one live verification at a time: asking
 * again re-sends a code under the same id and keeps its wrong-code count, and a verification
 * that died of wrong codes blocks new ones until it expires, so no sequence of requests gives a
 * guesser more than 5 tries per 15 minutes, with or without Redis.
 */
export class PhoneVerifications {
  constructor(private readonly deps: PhoneVerificationDeps) {}

  /**
   * Starts (or re-sends) a verification and answers the same for known and unknown numbers. A
   * login code goes only to a number whose account may sign in by SMS; anyone else's verification
   * exists all the same but no code is sent (nobody can confirm it). Every request spends one
   * code of the country's budget, sent or not, so the answer reveals nothing either.
   */
  async request(phone: ParsedPhone, purpose: VerificationPurpose, language: Language, context: RequestContext): Promise<{ verification_id: string; expires_in: number }> {
    const { db, clock, digest, budget, metrics } = this.deps;
    const outcome = await db.transaction(async (trx) => {
      await repo.lockNumber(trx, phone.e164, purpose);
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + codeLifetimeSeconds * 1000);
      const live = await repo.latestLive(trx, phone.e164, purpose, now);
      if (live && live.attempts >= maxCodeAttempts) throw attemptsExceeded(live, now);
      const owner = await usersRepo.findLiveByVerifiedPhone(trx, phone.e164);
      const send = purpose !== 'login' || (owner !== undefined && actorPolicy.anyAllows(await actorTypesRepo.heldBy(trx, owner.id), 'sms'));
      try {
        await budget.spend(trx, phone.country, now);
      } catch (err) {
        metrics.smsBudgetRefusals.inc({ country: phone.country });
        throw err;
      }
      const code = newCode();
      const resent = live !== undefined && live.confirmed_at === null;
      const id = resent ? live.id : randomUUID();
      if (resent) await repo.resend(trx, id, digest.of(id, code), now, expiresAt);
      else {
        if (live) await repo.supersede(trx, live.id, now);
        await repo.insert(trx, { id, phone: phone.e164, country: phone.country, purpose, code_digest: digest.of(id, code), created_at: now, last_sent_at: now, expires_at: expiresAt });
      }
      if (send) {
        await enqueueMessage(trx, clock, { channel: 'sms', to: phone.e164, template: 'phone_code', language: owner?.language ?? language, params: { code }, data: { code } });
      }
      await recordAudit(trx, clock, {
        event: 'phone.code_requested',
        userId: owner?.id,
        identifier: phone.e164,
        context,
        details: { purpose, verification_id: id, resent, sent: send },
      });
      return { id, send };
    });
    if (outcome.send) metrics.smsCodesSent.inc({ country: phone.country, purpose });
    return { verification_id: outcome.id, expires_in: codeLifetimeSeconds };
  }

  /**
   * Checks a code. A right one confirms the verification (once); a wrong one is counted (and
   * audited) before the error is answered, the fifth killing the verification.
   */
  async confirm(id: string, code: string, context: RequestContext): Promise<{ verified: true; purpose: VerificationPurpose }> {
    const { db, clock, digest, metrics } = this.deps;
    const now = clock.now();
    const outcome = await db.transaction(async (trx) => {
      const row = await repo.lock(trx, id);
      if (!row || row.consumed_at || row.confirmed_at) throw verificationInvalid();
      if (row.expires_at <= now) throw verificationExpired();
      if (row.attempts >= maxCodeAttempts) throw attemptsExceeded(row, now);
      const owner = row.purpose === 'recovery' ? undefined : await usersRepo.findLiveByVerifiedPhone(trx, row.phone);
      const audit = { userId: owner?.id, identifier: row.phone, context };
      if (digest.matches(row.id, code, row.code_digest)) {
        await repo.confirm(trx, row.id, now);
        await recordAudit(trx, clock, { event: 'phone.code_verified', ...audit, details: { purpose: row.purpose, verification_id: row.id } });
        return { row, attempts: undefined };
      }
      const attempts = await repo.recordFailure(trx, row.id);
      await recordAudit(trx, clock, { event: 'phone.code_failed', ...audit, details: { purpose: row.purpose, verification_id: row.id, attempts } });
      return { row, attempts };
    });
    if (outcome.attempts === undefined) {
      metrics.smsCodesVerified.inc({ country: outcome.row.country, purpose: outcome.row.purpose });
      return { verified: true, purpose: outcome.row.purpose };
    }
    metrics.smsCodesFailed.inc({ country: outcome.row.country });
    if (outcome.attempts >= maxCodeAttempts) throw attemptsExceeded(outcome.row, now);
    throw new AppError('phone_code_invalid', { detail: `The code is wrong; ${maxCodeAttempts - outcome.attempts} tries left.` });
  }

  /**
   * Uses up a confirmed verification for the flow of its purpose, in `trx`: it then serves
   * nothing else. A verification of another purpose, unconfirmed or used is 400
   * phone_verification_invalid; an expired one phone_verification_expired.
   */
  async consume(trx: Knex, id: string, purpose: VerificationPurpose): Promise<PhoneVerificationRow> {
    const now = this.deps.clock.now();
    const used = await repo.consume(trx, id, purpose, now);
    if (used) return used;
    const row = await repo.find(trx, id);
    if (!row) throw verificationInvalid();
    if (row.purpose !== purpose) throw verificationInvalid(`This verification is for ${row.purpose}, not ${purpose}.`);
    if (row.consumed_at) throw verificationInvalid('This verification has already been used; request a new code.');
    if (!row.confirmed_at) throw verificationInvalid('Confirm the code first (/auth/phone/verify/confirm).');
    throw verificationExpired();
  }
}
