/**
 * The fast-path store: short-lived shared state (revocation markers, counters, one-time codes).
 * Shared by every instance; never the only copy of a decision that must survive its loss.
 * Two backends pass the same contract suite: Redis, and PostgreSQL for setups without Redis.
 */
export interface FastStore {
  readonly kind: 'redis' | 'postgres';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Sets the key only when it does not exist (or has expired); true when this call set it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Atomically adds one to a counter whose window starts at its first increment. */
  increment(key: string, windowMs: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
