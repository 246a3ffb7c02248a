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
  /**
   * Returns the live value and deletes the key in one atomic step (GETDEL): of parallel takes of
   * one key, from any instance, exactly one gets the value (single-use codes and states).
   */
  take(key: string): Promise<string | null>;
  /** Atomically adds one to a counter whose window starts at its first increment. */
  increment(key: string, windowMs: number): Promise<number>;
  /** Like increment, and also says how long the counter's window has left. */
  incrementWindow(key: string, windowMs: number): Promise<WindowCount>;
  /** Takes one back from a live counter (never below zero; its window is unchanged). */
  decrement(key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A windowed counter after an increment. */
export interface WindowCount {
  count: number;
  /** Milliseconds until the window ends and the counter starts again at 1. */
  remainingMs: number;
}
