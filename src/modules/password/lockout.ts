import type { Knex } from 'knex';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';

export interface LockoutSettings {
  /** Failed attempts (since the last success) that lock the identifier. */
  maxFailures: number;
  /** How long a lock lasts. */
  durationSeconds: number;
}

/** The outcome of counting (or looking at) an attempt. */
export type LockoutState = { locked: true; retryAfterSeconds: number } | { locked: false; failures: number };

interface LockoutRow {
  identifier: string;
  failures: number;
  locked_until: Date | null;
  updated_at: Date;
}

/** The answer to any attempt on a locked identifier: the same whether the password is right, wrong or the email unknown. */
export function accountLockedError(retryAfterSeconds: number): AppError {
  return new AppError('account_locked', {
    detail: 'Too many failed sign-in attempts: this account is temporarily locked. Try again later.',
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });
}

/**
 * Failed-attempt counting and lockout per identifier (the normalized email), in PostgreSQL's
 * `login_lockouts`: unknown identifiers lock exactly like known ones, and a restart of the
 * fast-path store does not reset anything.
 *
 * Each attempt is reserved before the secret is checked (`reserve`, or `reserveQuery` in a larger statement), atomically, so N parallel
 * attempts get at most `maxFailures` checks. Then exactly one of: `failed` (in the caller's
 * transaction; it says whether this failure set the lock, so the caller can notify and audit),
 * `succeeded` (the user is fully signed in: the count starts again), or `release` (the secret was
 * right but the sign-in did not complete, e.g. a second factor is pending: the attempt does not
 * count, and the earlier failures stay).
 */
export class LoginLockout {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    private readonly settings: LockoutSettings,
  ) {}

  /** The identifier's state, without counting an attempt (for the CAPTCHA threshold). */
  async peek(identifier: string): Promise<LockoutState> {
    const row = await this.db<LockoutRow>('login_lockouts').where({ identifier }).first('failures', 'locked_until', 'updated_at');
    if (!row) return { locked: false, failures: 0 };
    const now = this.clock.now();
    if (row.locked_until && row.locked_until > now) return this.lockedUntil(row.locked_until, now);
    if (row.locked_until || this.isStale(row, now)) return { locked: false, failures: 0 };
    if (row.failures > this.settings.maxFailures) return this.lockedUntil(null, now);
    return { locked: false, failures: row.failures };
  }

  /**
   * Counts one attempt before the secret is checked. Locked when a lock is running or when
   * more attempts than allowed are already counted (in flight or failed); an expired lock
   * starts the count again. A locked answer costs no password check.
   */
  async reserve(identifier: string): Promise<LockoutState> {
    const now = this.clock.now();
    const { rows } = await this.reserveQuery(identifier, now);
    return this.stateAfterReserve(rows[0]!, now);
  }

  /**
   * reserve()'s upsert, not run (a statement that reads more at once embeds it as a CTE): one
   * row, `failures, locked_until, updated_at`, for stateAfterReserve.
   */
  reserveQuery(identifier: string, now: Date): Knex.Raw<{ rows: LockoutRow[] }> {
    const { maxFailures } = this.settings;
    const staleBefore = this.staleBefore(now);
    // Every SET expression reads the row as it was (l.*). Cases, in order: a running lock
    // (nothing changes), an expired lock (start again at 1), a count at the limit with no lock,
    // left over by attempts that never finished (stale: start again at 1), a count at the
    // limit (count it, keep updated_at so it can go stale), otherwise count it.
    return this.db.raw<{ rows: LockoutRow[] }>(
      `insert into login_lockouts as l (identifier, failures, locked_until, updated_at)
       values (:identifier, 1, null, :now)
       on conflict (identifier) do update set
         failures = case
           when l.locked_until > :now then l.failures
           when l.locked_until is not null then 1
           when l.failures >= :max and l.updated_at <= :staleBefore then 1
           else l.failures + 1 end,
         locked_until = case when l.locked_until > :now then l.locked_until else null end,
         updated_at = case
           when l.locked_until > :now then l.updated_at
           when l.locked_until is null and l.failures >= :max and l.updated_at > :staleBefore then l.updated_at
           else :now end
       returning failures, locked_until, updated_at`,
      { identifier, now, max: maxFailures, staleBefore },
    );
  }

  /** The outcome of an attempt reserved at `now`, from the row reserveQuery returned. */
  stateAfterReserve(row: Pick<LockoutRow, 'failures' | 'locked_until'>, now: Date): LockoutState {
    const { maxFailures } = this.settings;
    if (row.locked_until && row.locked_until > now) return this.lockedUntil(row.locked_until, now);
    if (row.failures > maxFailures) return this.lockedUntil(null, now);
    return { locked: false, failures: row.failures };
  }

  /**
   * Records that a reserved attempt failed, in the caller's transaction. Returns the end of the
   * lock when this very failure set it (once per lock, whatever the concurrency), else null.
   */
  async failed(trx: Knex.Transaction, identifier: string): Promise<Date | null> {
    const { write } = this.failedWrite(identifier);
    const rows: Array<{ locked_until: Date }> = await write.transacting(trx);
    return rows[0]?.locked_until ?? null;
  }

  /**
   * failed()'s update, not run, for a statement that writes the failure's other rows with it
   * (CTEs): it returns `locked_until` (always `until`) only when this failure sets the lock.
   */
  failedWrite(identifier: string): { write: Knex.QueryBuilder; until: Date } {
    const now = this.clock.now();
    const until = new Date(now.getTime() + this.settings.durationSeconds * 1000);
    const write = this.db('login_lockouts')
      .where({ identifier })
      .whereNull('locked_until')
      .andWhere('failures', '>=', this.settings.maxFailures)
      .update({ locked_until: until, updated_at: now })
      .returning('locked_until');
    return { write, until };
  }

  /**
   * The user is fully signed in: the count starts again. A running lock is not lifted (a trusted
   * device may sign in while the account is locked for the others, who stay locked out).
   */
  async succeeded(identifier: string): Promise<void> {
    await this.succeededWrite(identifier);
  }

  /** succeeded()'s update, not run: for the statement that opens the session to make with it. */
  succeededWrite(identifier: string): Knex.QueryBuilder {
    const now = this.clock.now();
    return this.db('login_lockouts')
      .where({ identifier })
      .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<=', now))
      .update({ failures: 0, locked_until: null, updated_at: now });
  }

  /** The secret was right but the sign-in stopped short of tokens: the reserved attempt does not count. */
  async release(identifier: string): Promise<void> {
    await this.db('login_lockouts')
      .where({ identifier })
      .whereNull('locked_until')
      .andWhere('failures', '>', 0)
      .update({ failures: this.db.raw('failures - 1') });
  }

  private lockedUntil(until: Date | null, now: Date): LockoutState {
    const ms = until ? until.getTime() - now.getTime() : this.settings.durationSeconds * 1000;
    return { locked: true, retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) };
  }

  private staleBefore(now: Date): Date {
    return new Date(now.getTime() - this.settings.durationSeconds * 1000);
  }

  private isStale(row: Pick<LockoutRow, 'failures' | 'updated_at'>, now: Date): boolean {
    return row.failures >= this.settings.maxFailures && row.updated_at <= this.staleBefore(now);
  }
}
