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

/** Brings the schema to the latest version and inserts the default catalogue (idempotent). */
export async function migrateAndSeed(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource });
  await seedActorTypes(db);
}

export { migrationSource };
