import type { TestApp } from './app.js';

/** Waits (on a condition, not a clock) until `count` backends of the test database wait for a lock. */
export async function lockWaiters(app: TestApp, count: number): Promise<void> {
  for (;;) {
    const { rows } = await app.db.raw(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
    if (rows[0].n >= count) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
