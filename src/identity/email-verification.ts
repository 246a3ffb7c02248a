import type { Knex } from 'knex';
import type { Clock } from '../infra/clock.js';
import { insertIf } from '../infra/db.js';
import { enqueueMessage } from '../infra/messages/outbox.js';
import { hashOpaqueToken, newOpaqueToken } from '../infra/tokens.js';
import { AppError } from '../shared/errors.js';
import type { UserRow } from './users.repo.js';

export const verificationTokenTtlMs = 24 * 3600 * 1000;
const hourMs = 3600 * 1000;

interface VerificationTokenRow {
  id: string;
  user_id: string;
  used_at: Date | null;
  expires_at: Date;
}

/** `email_verification_tokens`: single-use links that prove an address (stored as hashes only). */
export const emailVerification = {
  /**
   * Stores a new single-use verification token (hash only) and queues the email, in `trx`.
   * `when: false` writes nothing at the same cost (a resend for an address that gets none).
   */
  async send(trx: Knex, clock: Clock, appUrl: string, user: Pick<UserRow, 'id' | 'email' | 'language' | 'first_name'>, options: { when?: boolean } = {}): Promise<void> {
    const when = options.when ?? true;
    const { token, hash } = newOpaqueToken();
    const now = clock.now();
    await insertIf(trx, 'email_verification_tokens', { user_id: user.id, token_hash: hash, expires_at: new Date(now.getTime() + verificationTokenTtlMs), created_at: now }, when);
    const link = `${appUrl}/verify-email?token=${encodeURIComponent(token)}`;
    await enqueueMessage(
      trx,
      clock,
      { channel: 'email', to: user.email!, template: 'email_verification', language: user.language, params: { first_name: user.first_name ?? '', link }, data: { token, link } },
      { when },
    );
  },

  /** Uses up a link in `trx` (locked, so it works once); returns the user it was sent to. */
  async consume(trx: Knex.Transaction, token: string, now: Date): Promise<string> {
    const row: VerificationTokenRow | undefined = await trx('email_verification_tokens').where({ token_hash: hashOpaqueToken(token) }).forUpdate().first();
    if (!row || row.used_at) throw new AppError('verification_token_invalid', { detail: 'This verification link is not valid (it may have been used already).' });
    if (row.expires_at <= now) throw new AppError('verification_token_expired', { detail: 'This verification link has expired; ask for a new one.' });
    await trx('email_verification_tokens').where({ id: row.id }).update({ used_at: now });
    return row.user_id;
  },

  /** How many links were sent to the user in the last hour. */
  async sentInLastHour(trx: Knex, userId: string, now: Date): Promise<number> {
    const row = await trx('email_verification_tokens').where({ user_id: userId }).andWhere('created_at', '>', new Date(now.getTime() - hourMs)).count<{ count: string }[]>('* as count').first();
    return Number(row?.count ?? 0);
  },
};
