import type { IncrementResponse, Options, Store } from 'express-rate-limit';
import type { FastStore } from '../store/store.js';

/**
 * express-rate-limit's Store on the FastStore (the PostgreSQL fallback when there is no Redis):
 * the counters live in the shared store, windows are measured with the store's injected clock.
 */
export class FastStoreLimitStore implements Store {
  readonly localKeys = false;
  private windowMs = 60_000;

  constructor(
    private readonly store: FastStore,
    /** Prepended to every key of this limiter, e.g. `rl:login-ip:`. */
    readonly prefix: string,
  ) {}

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  async increment(key: string): Promise<IncrementResponse> {
    const { count, remainingMs } = await this.store.incrementWindow(this.prefix + key, this.windowMs);
    // express-rate-limit reads the reset time against the system clock: hand it the time left.
    return { totalHits: count, resetTime: new Date(Date.now() + remainingMs) };
  }

  async decrement(key: string): Promise<void> {
    await this.store.decrement(this.prefix + key);
  }

  async resetKey(key: string): Promise<void> {
    await this.store.delete(this.prefix + key);
  }
}
