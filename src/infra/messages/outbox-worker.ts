import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';

export interface EmailTransport {
  sendMail(mail: { from: string; to: string; subject: string; text: string }): Promise<unknown>;
}

interface OutboxRow {
  id: string;
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
 * Delivers pending outbox emails. Rows are claimed with SKIP LOCKED and a lease, so several
 * workers never send one message twice, and a crashed worker's claim is retried after the lease.
 * Failures back off exponentially; after maxAttempts the message is marked failed.
 */
export class OutboxWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    private readonly email: EmailTransport,
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
    const now = this.clock.now();
    const lease = new Date(now.getTime() + (this.options.leaseMs ?? 60_000));
    const claimed: OutboxRow[] = (
      await this.db.raw(
        `update outbox_messages set next_attempt_at = ?
         where id in (select id from outbox_messages where status = 'pending' and channel = 'email' and next_attempt_at <= ?
                      order by next_attempt_at for update skip locked limit ?)
         returning id, recipient, subject, body, attempts`,
        [lease, now, this.options.batchSize ?? 10],
      )
    ).rows;
    let sent = 0;
    // Outcomes are recorded only while this worker still holds the lease: a worker whose lease
    // expired (a hung send) must not undo another worker's delivery.
    for (const row of claimed) {
      try {
        await this.email.sendMail({ from: this.options.from, to: row.recipient, subject: row.subject ?? '', text: row.body });
        // Delivered: the token it carried no longer needs to rest in the database.
        await this.db('outbox_messages')
          .where({ id: row.id, status: 'pending', next_attempt_at: lease })
          .update({ status: 'sent', sent_at: this.clock.now(), attempts: row.attempts + 1, body: '[delivered]', data: '{}', last_error: null });
        sent++;
      } catch (err) {
        const attempts = row.attempts + 1;
        const failed = attempts >= this.options.maxAttempts;
        const delay = this.options.backoffMs * 2 ** (attempts - 1);
        await this.db('outbox_messages')
          .where({ id: row.id, status: 'pending', next_attempt_at: lease })
          .update({
            attempts,
            status: failed ? 'failed' : 'pending',
            next_attempt_at: new Date(this.clock.now().getTime() + delay),
            last_error: String((err as Error)?.message ?? err).slice(0, 500),
          });
        this.logger.warn({ messageId: row.id, attempts, failed }, 'email delivery failed');
      }
    }
    return sent;
  }
}
