import type { Knex } from 'knex';
import type { Clock } from '../infra/clock.js';
import { enqueueMessage, type OutgoingMessage } from '../infra/messages/outbox.js';
import type { TemplateName } from '../infra/messages/templates.js';
import type { UserRow } from './users.repo.js';

/** The security notices an account receives, by email or (for an account without email) by SMS. */
const smsVersion = {
  new_device_sign_in: 'new_device_sign_in_sms',
  mfa_enabled: 'mfa_enabled_sms',
  mfa_disabled: 'mfa_disabled_sms',
} as const satisfies Partial<Record<TemplateName, TemplateName>>;

export type SecurityNotice = keyof typeof smsVersion;

/** The message of a security notice: to the account's email, else to its verified phone by SMS; none for an account with neither (a guest). */
export function securityNotice(user: UserRow, notice: SecurityNotice, params: Record<string, string>, link: string): OutgoingMessage | undefined {
  const common = { language: user.language, params: { first_name: user.first_name ?? '', ...params, link }, data: { link } };
  if (user.email) return { channel: 'email', to: user.email, template: notice, ...common };
  if (user.phone && user.phone_verified_at) return { channel: 'sms', to: user.phone, template: smsVersion[notice], ...common };
  return undefined;
}

/**
 * Queues a security notice in `trx` (sent only if it commits), as securityNotice addresses it.
 * Returns whether one was queued.
 */
export async function notifyUser(trx: Knex, clock: Clock, user: UserRow, notice: SecurityNotice, params: Record<string, string>, link: string): Promise<boolean> {
  const message = securityNotice(user, notice, params, link);
  if (message) await enqueueMessage(trx, clock, message);
  return message !== undefined;
}
