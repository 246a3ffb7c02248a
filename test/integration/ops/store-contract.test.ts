import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { ManualClock } from '../../../src/infra/clock.js';
import { createDb, type Db } from '../../../src/infra/db.js';
import { PostgresStore } from '../../../src/infra/store/postgres-store.js';
import { RedisStore } from '../../../src/infra/store/redis-store.js';
import type { FastStore } from '../../../src/infra/store/store.js';
import { testDatabaseUrl, testRedisUrl } from '../../helpers/env.js';
import { advanceRedisTime } from '../../helpers/redis-time.js';

/** What a backend gives the contract suite. */
interface StoreHarness {
  /** The store under test. */
  store: FastStore;
  /** A second store on its own connection to the same backend: another process. */
  other: FastStore;
  /** Makes `ms` milliseconds pass for the backend (manual clock, or real time for a real TTL). */
  expire(ms: number): Promise<void>;
  /** Removes what the run left behind and closes every connection. */
  close(): Promise<void>;
}

// Redis TTLs run in real time, which the harness cannot stop: every duration here is far longer
// than a test may run (its 20 s timeout), and time passes by shortening TTLs (advanceRedisTime),
// so no outcome depends on the machine's speed. The same figures drive the PostgreSQL store's
// manual clock.
const minute = 60_000;
const longTtl = 60 * minute;
const shortTtl = 5 * minute;
const pastShortTtl = 8 * minute;
/** More than any real time a test can take (mocha's timeout), less than any step the tests take. */
const realTimeSlack = 20_000;

/**
 * The one contract of FastStore (src/infra/store/store.ts), run against every backend, so
 * either can back the app without a change in behaviour.
 */
function describeFastStore(name: string, factory: () => Promise<StoreHarness>): void {
  describe(`FastStore contract: ${name}`, () => {
    let h: StoreHarness;
    let key: (tag: string) => string;

    before(async () => {
      h = await factory();
    });

    after(async () => {
      await h?.close();
    });

    beforeEach(() => {
      const id = randomUUID();
      key = (tag) => `contract:${id}:${tag}`;
    });

    it('answers a ping', async () => {
      await h.store.ping();
    });

    it('get returns null for a key never set', async () => {
      expect(await h.store.get(key('missing'))).to.equal(null);
    });

    it('set then get returns the value; delete removes it', async () => {
      await h.store.set(key('a'), 'value-a', longTtl);
      expect(await h.store.get(key('a'))).to.equal('value-a');
      await h.store.delete(key('a'));
      expect(await h.store.get(key('a'))).to.equal(null);
    });

    it('delete of a missing key is not an error', async () => {
      await h.store.delete(key('never'));
      expect(await h.store.get(key('never'))).to.equal(null);
    });

    it('set overwrites an existing value', async () => {
      await h.store.set(key('a'), 'first', longTtl);
      await h.store.set(key('a'), 'second', longTtl);
      expect(await h.store.get(key('a'))).to.equal('second');
    });

    it('keys are independent', async () => {
      await h.store.set(key('a'), 'A', longTtl);
      await h.store.set(key('b'), 'B', longTtl);
      await h.store.delete(key('a'));
      expect(await h.store.get(key('a'))).to.equal(null);
      expect(await h.store.get(key('b'))).to.equal('B');
    });

    it('a value is kept before its TTL and gone after it', async () => {
      await h.store.set(key('short'), 'x', shortTtl);
      await h.store.set(key('long'), 'y', longTtl);
      await h.expire(pastShortTtl);
      expect(await h.store.get(key('short'))).to.equal(null);
      expect(await h.store.get(key('long'))).to.equal('y');
    });

    it('set replaces the TTL along with the value', async () => {
      await h.store.set(key('a'), 'short-lived', shortTtl);
      await h.store.set(key('a'), 'long-lived', longTtl);
      await h.expire(pastShortTtl);
      expect(await h.store.get(key('a'))).to.equal('long-lived');
    });

    it('setIfAbsent is true once, then false, and keeps the first value', async () => {
      expect(await h.store.setIfAbsent(key('once'), 'first', longTtl)).to.equal(true);
      expect(await h.store.setIfAbsent(key('once'), 'second', longTtl)).to.equal(false);
      expect(await h.store.get(key('once'))).to.equal('first');
    });

    it('setIfAbsent is false for a key written by set', async () => {
      await h.store.set(key('a'), 'by-set', longTtl);
      expect(await h.store.setIfAbsent(key('a'), 'by-setIfAbsent', longTtl)).to.equal(false);
      expect(await h.store.get(key('a'))).to.equal('by-set');
    });

    it('setIfAbsent succeeds again once the previous value expired', async () => {
      expect(await h.store.setIfAbsent(key('lease'), 'first', shortTtl)).to.equal(true);
      await h.expire(pastShortTtl);
      expect(await h.store.setIfAbsent(key('lease'), 'second', longTtl)).to.equal(true);
      expect(await h.store.get(key('lease'))).to.equal('second');
      expect(await h.store.setIfAbsent(key('lease'), 'third', longTtl)).to.equal(false);
    });

    it('setIfAbsent succeeds again after delete', async () => {
      expect(await h.store.setIfAbsent(key('a'), 'first', longTtl)).to.equal(true);
      await h.store.delete(key('a'));
      expect(await h.store.setIfAbsent(key('a'), 'second', longTtl)).to.equal(true);
    });

    it('take returns the value once and removes the key', async () => {
      await h.store.set(key('once'), 'secret', longTtl);
      expect(await h.store.take(key('once'))).to.equal('secret');
      expect(await h.store.take(key('once'))).to.equal(null);
      expect(await h.store.get(key('once'))).to.equal(null);
    });

    it('take of a missing key, or of an expired one, returns null', async () => {
      expect(await h.store.take(key('never'))).to.equal(null);
      await h.store.set(key('short'), 'x', shortTtl);
      await h.expire(pastShortTtl);
      expect(await h.store.take(key('short'))).to.equal(null);
      expect(await h.store.setIfAbsent(key('short'), 'again', longTtl)).to.equal(true);
    });

    it('20 parallel takes of one key from two connections: exactly one gets the value', async () => {
      const k = key('take-race');
      await h.store.set(k, 'the-code', longTtl);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? h.other : h.store).take(k)));
      expect(results.filter((r) => r !== null)).to.deep.equal(['the-code']);
      expect(await h.other.get(k)).to.equal(null);
    });

    it('increment counts 1, 2, 3 within its window', async () => {
      const counts = [];
      for (let i = 0; i < 3; i++) counts.push(await h.store.increment(key('counter'), longTtl));
      expect(counts).to.deep.equal([1, 2, 3]);
    });

    it('increment restarts at 1 once its window has passed', async () => {
      expect(await h.store.increment(key('counter'), shortTtl)).to.equal(1);
      expect(await h.store.increment(key('counter'), shortTtl)).to.equal(2);
      await h.expire(pastShortTtl);
      expect(await h.store.increment(key('counter'), shortTtl)).to.equal(1);
      expect(await h.store.increment(key('counter'), shortTtl)).to.equal(2);
    });

    it("increment's window starts at the first increment: later increments do not extend it", async () => {
      const window = 10 * minute;
      expect(await h.store.increment(key('fixed'), window)).to.equal(1);
      await h.expire(6 * minute);
      expect(await h.store.increment(key('fixed'), window)).to.equal(2);
      await h.expire(6 * minute); // 12 min after the first increment, 6 min after the last
      expect(await h.store.increment(key('fixed'), window)).to.equal(1);
    });

    it('counters of different keys are independent', async () => {
      await h.store.increment(key('x'), longTtl);
      await h.store.increment(key('x'), longTtl);
      expect(await h.store.increment(key('y'), longTtl)).to.equal(1);
      expect(await h.store.increment(key('x'), longTtl)).to.equal(3);
    });

    it('incrementWindow counts like increment and says how long its window has left', async () => {
      const first = await h.store.incrementWindow(key('window'), longTtl);
      expect(first.count).to.equal(1);
      expect(first.remainingMs).to.be.within(longTtl - realTimeSlack, longTtl);
      await h.expire(10 * minute);
      const second = await h.store.incrementWindow(key('window'), longTtl);
      expect(second.count).to.equal(2);
      expect(second.remainingMs).to.be.within(longTtl - 10 * minute - realTimeSlack, longTtl - 10 * minute);
      expect(await h.store.increment(key('window'), longTtl)).to.equal(3);
    });

    it('incrementWindow restarts at 1 with a full window once the window has passed', async () => {
      await h.store.incrementWindow(key('window'), shortTtl);
      await h.expire(pastShortTtl);
      const restarted = await h.store.incrementWindow(key('window'), longTtl);
      expect(restarted.count).to.equal(1);
      expect(restarted.remainingMs).to.be.within(longTtl - realTimeSlack, longTtl);
    });

    it('decrement takes one back, never below zero, and ignores a missing key', async () => {
      await h.store.increment(key('down'), longTtl);
      await h.store.increment(key('down'), longTtl);
      await h.store.decrement(key('down'));
      expect(await h.store.increment(key('down'), longTtl)).to.equal(2);
      for (let i = 0; i < 3; i++) await h.store.decrement(key('down'));
      expect(await h.store.increment(key('down'), longTtl)).to.equal(1);
      await h.store.decrement(key('never'));
      expect(await h.store.get(key('never'))).to.equal(null);
    });

    it('decrement leaves the window where the first increment put it', async () => {
      const window = 10 * minute;
      await h.store.increment(key('down'), window);
      await h.store.increment(key('down'), window);
      await h.expire(6 * minute);
      await h.store.decrement(key('down'));
      await h.expire(6 * minute); // 12 min after the first increment, 6 min after the decrement
      expect(await h.store.increment(key('down'), window)).to.equal(1);
    });

    it('50 parallel increments from two connections yield exactly 1..50', async () => {
      const k = key('parallel');
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? h.other : h.store).increment(k, longTtl)));
      expect([...results].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await h.store.increment(k, longTtl)).to.equal(51);
    });

    it('20 parallel setIfAbsent from two connections: exactly one wins, and its value is kept', async () => {
      const k = key('race');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? h.other : h.store).setIfAbsent(k, `writer-${i}`, longTtl)));
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      expect(winners).to.have.length(1);
      expect(await h.other.get(k)).to.equal(`writer-${winners[0]}`);
    });

    it('values are shared across two store instances (two processes)', async () => {
      await h.store.set(key('shared'), 'from-a', longTtl);
      expect(await h.other.get(key('shared'))).to.equal('from-a');
      await h.other.set(key('shared'), 'from-b', longTtl);
      expect(await h.store.get(key('shared'))).to.equal('from-b');
      await h.other.delete(key('shared'));
      expect(await h.store.get(key('shared'))).to.equal(null);
      expect(await h.store.setIfAbsent(key('claim'), 'a', longTtl)).to.equal(true);
      expect(await h.other.setIfAbsent(key('claim'), 'b', longTtl)).to.equal(false);
      expect(await h.store.increment(key('count'), longTtl)).to.equal(1);
      expect(await h.other.increment(key('count'), longTtl)).to.equal(2);
      expect(await h.store.increment(key('count'), longTtl)).to.equal(3);
    });
  });
}

describeFastStore('RedisStore', async () => {
  const prefix = `sesame-contract-${randomUUID()}:`;
  const store = await RedisStore.connect(testRedisUrl, prefix);
  const other = await RedisStore.connect(testRedisUrl, prefix);
  return {
    store,
    other,
    // Redis keeps real time: time passes by shortening this run's TTLs.
    expire: async (ms) => {
      await advanceRedisTime(`${prefix}*`, ms);
    },
    close: async () => {
      const admin = new Redis(testRedisUrl);
      try {
        const keys = await admin.keys(`${prefix}*`);
        if (keys.length) await admin.del(...keys);
      } finally {
        admin.disconnect();
      }
      await store.close();
      await other.close();
    },
  };
});

describeFastStore('PostgresStore', async () => {
  const clock = new ManualClock();
  const dbA = createDb(testDatabaseUrl, 10);
  const dbB = createDb(testDatabaseUrl, 10);
  return {
    store: new PostgresStore(dbA, clock),
    other: new PostgresStore(dbB, clock),
    expire: async (ms) => clock.advance(ms),
    close: async () => {
      await dbA('fast_store').where('key', 'like', 'contract:%').delete();
      await dbA.destroy();
      await dbB.destroy();
    },
  };
});

describe('PostgresStore.purgeExpired', () => {
  let db: Db;
  let clock: ManualClock;
  let store: PostgresStore;

  before(() => {
    db = createDb(testDatabaseUrl, 2);
    clock = new ManualClock();
    store = new PostgresStore(db, clock);
  });

  after(async () => {
    await db.destroy();
  });

  it('removes expired rows and keeps live ones', async () => {
    const id = randomUUID();
    const expired = `purge:${id}:expired`;
    const live = `purge:${id}:live`;
    await store.set(expired, 'old', 1000);
    await store.set(live, 'new', 60_000);
    clock.advance(1001);
    const removed = await store.purgeExpired();
    expect(removed).to.be.at.least(1);
    const rows = await db('fast_store').whereIn('key', [expired, live]).pluck('key');
    expect(rows).to.deep.equal([live]);
    expect(await store.get(live)).to.equal('new');
    await store.delete(live);
  });

  it('keeps a row until its expiry instant has passed', async () => {
    const k = `purge:${randomUUID()}:edge`;
    await store.set(k, 'v', 1000);
    clock.advance(999);
    await store.purgeExpired();
    expect(await db('fast_store').where({ key: k }).first()).to.not.equal(undefined);
    expect(await store.get(k)).to.equal('v');
    clock.advance(1);
    await store.purgeExpired();
    expect(await db('fast_store').where({ key: k }).first()).to.equal(undefined);
  });
});
