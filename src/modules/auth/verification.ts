import type { Knex } from 'knex';
import type { Clock } from '../../infra/clock.js';
import { enqueueMessage } from '../../infra/messages/outbox.js';
import { newOpaqueToken } from '../../infra/tokens.js';
import type { UserRow } from '../users/users.repo.js';

export const verificationTokenTtlMs = 24 * 3600 * 1000;

/** Stores a new single-use verification token (hash only) and queues the email, in `trx`. */
export async function sendVerificationEmail(trx: Knex, clock: Clock, appUrl: string, user: UserRow): Promise<void> {
  const { token, hash } = newOpaqueToken();
  const now = clock.now();
  await trx('email_verification_tokens').insert({ user_id: user.id, token_hash: hash, expires_at: new Date(now.getTime() + verificationTokenTtlMs), created_at: now });
  const link = `${appUrl}/verify-email?token=${encodeURIComponent(token)}`;
  await enqueueMessage(trx, clock, {
    channel: 'email',
    to: user.email!,
    template: 'email_verification',
    language: user.language,
    params: { first_name: user.first_name ?? '', link },
    data: { token, link },
  });
}
