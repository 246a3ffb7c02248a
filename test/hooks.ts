import { createDb, migrateAndSeed } from '../src/infra/db.js';
import { ensureTestDatabase, testDatabaseUrl } from './helpers/env.js';

/** Once per run: the test database exists and is at the latest schema. */
export async function mochaGlobalSetup(): Promise<void> {
  await ensureTestDatabase();
  const db = createDb(testDatabaseUrl, 2);
  try {
    await migrateAndSeed(db);
  } finally {
    await db.destroy();
  }
}
