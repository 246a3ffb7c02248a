/**
 * Runs the Postman collection with Newman against a real server started in-process on a free
 * port (test PostgreSQL and Redis, as the mocha suites use). Exits 1 on any failed assertion.
 */
import pino from 'pino';
import { createDb, migrateAndSeed } from '../src/infra/db.js';
import { systemClock } from '../src/infra/clock.js';
import { RedisStore } from '../src/infra/store/redis-store.js';
import { startServer } from '../src/server.js';
import { ensureTestDatabase, testConfig, testRedisUrl } from '../test/helpers/env.js';
import { runNewman } from './run-newman.js';

await ensureTestDatabase();
const config = testConfig({ LOG_LEVEL: 'warn' });
const db = createDb(config.DATABASE_URL!, 5);
await migrateAndSeed(db);
const store = await RedisStore.connect(testRedisUrl, 'sesame-newman:');
const running = await startServer(
  { config, db, store, clock: systemClock, logger: pino({ level: config.LOG_LEVEL }), keyEncryptionSecret: config.KEY_ENCRYPTION_KEY! },
  { host: '127.0.0.1', port: 0 },
);
let failures = 1;
try {
  ({ failures } = await runNewman(running.url));
} finally {
  await running.close();
  await store.close();
  await db.destroy();
}
console.log(failures === 0 ? 'Newman: all assertions passed' : `Newman: ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
