import type { ManualClock } from '../../src/infra/clock.js';

/**
 * Waits, bounded, until something sleeps on a manual clock (e.g. a logout waiting out its session
 * leases because Redis cannot be written), so the test can move the clock and wake it.
 */
export async function untilSleeping(clock: ManualClock): Promise<void> {
  for (const deadline = Date.now() + 15_000; clock.sleeping === 0; ) {
    if (Date.now() > deadline) throw new Error('nothing sleeps on the clock');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Runs `request`, which sleeps on `clock` until `ms` pass, moves the clock that far once it sleeps, and returns its answer. */
export async function acrossSleep<T>(clock: ManualClock, ms: number, request: () => Promise<T>): Promise<T> {
  const pending = request();
  await untilSleeping(clock);
  clock.advance(ms);
  return pending;
}
