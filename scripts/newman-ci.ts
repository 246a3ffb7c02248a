/**
 * Runs the Postman collection with Newman against a real server started in-process on a free
 * port (test PostgreSQL and Redis, as the mocha suites use). Exits 1 on any failed assertion.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { createDb, migrateAndSeed } from '../src/infra/db.js';
import { systemClock } from '../src/infra/clock.js';
import { RedisStore } from '../src/infra/store/redis-store.js';
import { PasswordHasher } from '../src/infra/passwords.js';
import { createAdmin } from '../src/modules/users/create-admin.js';
import { startServer } from '../src/server.js';
import { ensureTestDatabase, testConfig, testRedisUrl } from '../test/helpers/env.js';
import { runNewman } from './run-newman.js';

await ensureTestDatabase();
const config = testConfig({ LOG_LEVEL: 'warn' });
const db = createDb(config.DATABASE_URL!, 5);
await migrateAndSeed(db);
// The admin flow's administrator: a fresh one per run, holding the admin role as an agent (the
// admin actor type requires 2FA, which the two-factor flow covers on its own).
const admin = { email: `newman-admin-${Date.now().toString(36)}@example.com`, password: `${randomBytes(18).toString('base64url')}-Aa1!` };
await createAdmin(db, systemClock, new PasswordHasher({ memoryKiB: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST }), { ...admin, actorType: 'agent' });
const store = await RedisStore.connect(testRedisUrl, 'sesame-newman:');
const running = await startServer(
  { config, db, store, clock: systemClock, logger: pino({ level: config.LOG_LEVEL }), keyEncryptionSecret: config.KEY_ENCRYPTION_KEY! },
  { host: '127.0.0.1', port: 0 },
);
let failures = 1;
try {
  ({ failures } = await runNewman(running.url, { admin }));
} finally {
  await running.close();
  await store.close();
  await db.destroy();
}
console.log(failures === 0 ? 'Newman: all assertions passed' : `Newman: ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
