import pino, { type Logger } from 'pino';
import { ManualClock } from '../../src/infra/clock.js';
import { createDb, type Db } from '../../src/infra/db.js';
import { RedisStore } from '../../src/infra/store/redis-store.js';
import { PostgresStore } from '../../src/infra/store/postgres-store.js';
import type { FastStore } from '../../src/infra/store/store.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createClient, type Client } from '../../sdk/src/client/index.js';
import { testConfig, testRedisUrl } from './env.js';

export interface TestApp {
  url: string;
  client: Client;
  clock: ManualClock;
  db: Db;
  store: FastStore;
  running: RunningServer;
  close(): Promise<void>;
}

/**
 * Starts the real app in-process on port 0 against the test PostgreSQL and Redis, with a manual
 * clock. `store: 'postgres'` runs it without Redis (the fallback store); `redisUrl` reaches Redis
 * another way (through a proxy the test controls); `logger` receives its logs.
 */
export async function startTestApp(options: { env?: Record<string, string>; store?: 'redis' | 'postgres'; clock?: ManualClock; redisUrl?: string; logger?: Logger } = {}): Promise<TestApp> {
  const config = testConfig(options.env);
  const clock = options.clock ?? new ManualClock();
  const db = createDb(config.DATABASE_URL!, 5);
  const store: FastStore = options.store === 'postgres' ? new PostgresStore(db, clock) : await RedisStore.connect(options.redisUrl ?? testRedisUrl, 'sesame-test:');
  const logger = options.logger ?? pino({ level: config.LOG_LEVEL });
  let running: RunningServer;
  try {
    running = await startServer({ config, db, store, clock, logger, keyEncryptionSecret: config.KEY_ENCRYPTION_KEY! }, { host: '127.0.0.1', port: 0 });
  } catch (err) {
    await store.close();
    await db.destroy();
    throw err;
  }
  return {
    url: running.url,
    client: createClient({ baseUrl: running.url }),
    clock,
    db,
    store,
    running,
    close: async () => {
      await running.close();
      await store.close();
      await db.destroy();
    },
  };
}

/**
 * Registers the mocha hooks of a suite that shares one app: started before the suite (handed
 * to `use`), closed after it, and its clock put back after each test, so a test that moves time
 * does not leak it into the next ones.
 */
export function useTestApp(use: (app: TestApp) => void, options: Parameters<typeof startTestApp>[0] = {}): void {
  let app: TestApp | undefined;
  let startedAt: Date;
  before(async () => {
    app = await startTestApp(options);
    use(app);
  });
  beforeEach(() => {
    startedAt = app!.clock.now();
  });
  afterEach(() => {
    app?.clock.set(startedAt);
  });
  after(async () => {
    await app?.close();
  });
}
