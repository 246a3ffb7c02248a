import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { DeliveryError, type SmsSender } from './sms.js';

export interface EmailTransport {
  sendMail(mail: { from: string; to: string; subject: string; text: string }): Promise<unknown>;
}

/** Who delivers each channel; a channel without one stays in the outbox (the dev outbox shows it). */
export interface OutboxSenders {
  email?: EmailTransport;
  sms?: SmsSender;
}

interface OutboxRow {
  id: string;
  channel: 'email' | 'sms';
  recipient: string;
  subject: string | null;
  body: string;
  attempts: number;
}

export interface OutboxWorkerOptions {
  from: string;
  pollMs: number;
  maxAttempts: number;
  backoffMs: number;
  batchSize?: number;
  leaseMs?: number;
}

/**
 * Delivers pending outbox messages of the channels it has a sender for (email over SMTP, SMS
 * through an SmsSender). Rows are claimed with SKIP LOCKED and a lease, so several workers never
 * send one message twice, and a crashed worker's claim is retried after the lease. Failures
 * back off exponentially; after maxAttempts, or at once for a permanent refusal, the message
 * is marked failed.
 */
export class OutboxWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    private readonly senders: OutboxSenders,
    private readonly logger: Logger,
    private readonly options: OutboxWorkerOptions,
  ) {}

  start(): void {
    this.stopped = false;
    const tick = () => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((err) => this.logger.warn({ err }, 'outbox delivery round failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.options.pollMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One delivery round; returns how many messages were sent. */
  async runOnce(): Promise<number> {
    const channels = (['email', 'sms'] as const).filter((c) => this.senders[c]);
    if (!channels.length) return 0;
    const now = this.clock.now();
    const lease = new Date(now.getTime() + (this.options.leaseMs ?? 60_000));
    const claimed: OutboxRow[] = (
      await this.db.raw(
        `update outbox_messages set next_attempt_at = ?
         where id in (select id from outbox_messages where status = 'pending' and channel = any(?::text[]) and next_attempt_at <= ?
                      order by next_attempt_at for update skip locked limit ?)
         returning id, channel, recipient, subject, body, attempts`,
        [lease, channels, now, this.options.batchSize ?? 10],
      )
    ).rows;
    let sent = 0;
    // Outcomes are recorded only while this worker still holds the lease: a worker whose lease
    // expired (a hung send) must not undo another worker's delivery.
    for (const row of claimed) {
      try {
        await this.deliver(row);
        // Delivered: the token it carried no longer needs to rest in the database.
        await this.db('outbox_messages')
          .where({ id: row.id, status: 'pending', next_attempt_at: lease })
          .update({ status: 'sent', sent_at: this.clock.now(), attempts: row.attempts + 1, body: '[delivered]', data: '{}', last_error: null });
        sent++;
      } catch (err) {
        const attempts = row.attempts + 1;
        const failed = attempts >= this.options.maxAttempts || (err instanceof DeliveryError && err.permanent);
        const delay = this.options.backoffMs * 2 ** (attempts - 1);
        await this.db('outbox_messages')
          .where({ id: row.id, status: 'pending', next_attempt_at: lease })
          .update({
            attempts,
            status: failed ? 'failed' : 'pending',
            next_attempt_at: new Date(this.clock.now().getTime() + delay),
            last_error: String((err as Error)?.message ?? err).slice(0, 500),
            // Given up: nobody will send the token it carried, so it does not rest in the database either.
            ...(failed ? { body: '[failed]', data: '{}' } : {}),
          });
        this.logger.warn({ messageId: row.id, channel: row.channel, attempts, failed }, 'message delivery failed');
      }
    }
    return sent;
  }

  private async deliver(row: OutboxRow): Promise<void> {
    if (row.channel === 'sms') await this.senders.sms!.send({ to: row.recipient, body: row.body });
    else await this.senders.email!.sendMail({ from: this.options.from, to: row.recipient, subject: row.subject ?? '', text: row.body });
  }
}
