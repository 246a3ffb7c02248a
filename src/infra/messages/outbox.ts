import type { Knex } from 'knex';
import type { Clock } from '../clock.js';
import { insertIf } from '../db.js';
import { render, type Language, type TemplateName } from './templates.js';

export interface OutgoingMessage {
  channel: 'email' | 'sms';
  to: string;
  template: TemplateName;
  language: Language;
  params: Record<string, string>;
  /** What the message carries (token, code, link): shown by the dev outbox, erased once delivered. */
  data?: { token?: string; code?: string; link?: string };
}

/** The `outbox_messages` row of a message, as queued now (for a statement that writes it itself). */
export function outboxRow(clock: Clock, message: OutgoingMessage): Record<string, unknown> {
  const { subject, body } = render(message.template, message.language, message.params);
  const now = clock.now();
  return {
    channel: message.channel,
    recipient: message.to,
    template: message.template,
    language: message.language,
    subject: message.channel === 'sms' ? null : subject,
    body,
    data: JSON.stringify(message.data ?? {}),
    status: 'pending',
    next_attempt_at: now,
    created_at: now,
  };
}

/**
 * Writes a message to the outbox inside the caller's transaction: sent only if it commits.
 * `when: false` writes nothing at the same cost (see insertIf).
 */
export async function enqueueMessage(trx: Knex | Knex.Transaction, clock: Clock, message: OutgoingMessage, options: { when?: boolean } = {}): Promise<void> {
  await insertIf(trx, 'outbox_messages', outboxRow(clock, message), options.when ?? true);
}

/** A row of `outbox_messages`, as the dev outbox shows it. */
export interface OutboxRow {
  id: string;
  channel: 'email' | 'sms';
  recipient: string;
  template: string;
  subject: string | null;
  body: string;
  data: { token?: string; code?: string; link?: string };
  status: 'pending' | 'sent' | 'failed';
  created_at: Date;
}

/** The newest messages to one recipient on the given channels (the dev outbox). */
export async function messagesTo(db: Knex, recipient: string, limit: number, channels: Array<OutboxRow['channel']> = ['email', 'sms']): Promise<OutboxRow[]> {
  return db<OutboxRow>('outbox_messages').where({ recipient }).whereIn('channel', channels).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'seq', order: 'desc' }]).limit(limit);
}

/** How many messages of a template were queued for a recipient since a time (whatever their delivery). */
export async function recentMessages(db: Knex, query: { recipient: string; template: TemplateName; since: Date }): Promise<number> {
  const row = await db('outbox_messages').where({ recipient: query.recipient, template: query.template }).andWhere('created_at', '>', query.since).count<{ count: string }[]>('* as count').first();
  return Number(row?.count ?? 0);
}
