import { setTimeout as sleep } from 'node:timers/promises';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '../../migrations/index.js';
import { seed as seedActorTypes } from '../../seeds/001_actor_types.js';

export type Db = Knex;

export function createDb(url: string, poolMax = 10): Db {
  return knexFactory({
    client: 'pg',
    connection: url,
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 5000,
  });
}

/**
 * Brings the schema to the latest version and inserts the default catalogue (idempotent).
 * Instances starting together wait for the one holding knex's migration lock.
 */
export async function migrateAndSeed(db: Db): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await db.migrate.latest({ migrationSource });
      break;
    } catch (err) {
      if ((err as Error).name !== 'MigrationLocked' || attempt >= 120) throw err;
      await sleep(250);
    }
  }
  await seedActorTypes(db);
}

export { migrationSource };
