/** The time source; injected everywhere so expiry is testable without sleeping. */
export interface Clock {
  now(): Date;
  /** Resolves once the clock reads `at` or later (a timer on the system clock; a test's advance on a manual one). */
  sleepUntil(at: Date): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleepUntil: (at) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at.getTime() - Date.now()))),
};

/** A clock tests move by hand; what sleeps on it wakes when the test moves it far enough. */
export class ManualClock implements Clock {
  private current: number;
  private sleepers: Array<{ at: number; wake: () => void }> = [];

  constructor(start: Date = new Date()) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  sleepUntil(at: Date): Promise<void> {
    if (at.getTime() <= this.current) return Promise.resolve();
    return new Promise((wake) => this.sleepers.push({ at: at.getTime(), wake }));
  }

  /** How many sleepers wait for the clock to move. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  advance(ms: number): void {
    this.set(new Date(this.current + ms));
  }

  set(at: Date): void {
    this.current = at.getTime();
    const due = this.sleepers.filter((s) => s.at <= this.current);
    this.sleepers = this.sleepers.filter((s) => s.at > this.current);
    for (const s of due) s.wake();
  }
}
