import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { apiKeysRepo } from './api-keys.repo.js';

/**
 * When each API key was last used, kept in memory and written in batches (one statement per
 * flush, every `API_KEY_USAGE_FLUSH_SECONDS`, and at shutdown): a request made with a key costs
 * no database write. `last_used_at` may lag by one interval, and an instance that crashes loses
 * its unwritten times; nothing else depends on them.
 */
export class ApiKeyUsage {
  private pending = new Map<string, Date>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: { db: Knex; logger: Logger; flushSeconds: number }) {}

  seen(keyId: string, at: Date): void {
    const known = this.pending.get(keyId);
    if (!known || known < at) this.pending.set(keyId, at);
  }

  /** Writes the times seen since the last flush; a failed write keeps them for the next one. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (!this.pending.size) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        await apiKeysRepo.recordUse(this.deps.db, [...batch].map(([id, at]) => ({ id, at })));
      } catch (err) {
        for (const [id, at] of batch) this.seen(id, at);
        this.deps.logger.warn({ error: err instanceof Error ? err.message : String(err) }, 'API key usage not recorded; retrying at the next flush');
      }
    });
    return this.flushing;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.deps.flushSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
