/**
 * npm run migrate            apply every pending migration and the default seeds
 * npm run migrate:rollback   undo the last batch of migrations
 * Uses DATABASE_URL (see knexfile.ts).
 */
import knexFactory from 'knex';
import config from '../knexfile.js';
import { migrateAndSeed, migrationSource } from '../src/infra/db.js';

if (!process.env.DATABASE_URL) {
  console.error('DATABASE_URL is required (the embedded database is migrated by npm start itself).');
  process.exit(2);
}
const db = knexFactory(config);
try {
  if (process.argv[2] === 'rollback') {
    const [batch, names] = await db.migrate.rollback({ migrationSource });
    console.log(`Rolled back batch ${batch}: ${names.join(', ') || 'nothing to roll back'}`);
  } else {
    await migrateAndSeed(db);
    console.log(`Database is at ${await db.migrate.currentVersion({ migrationSource })}`);
  }
} finally {
  await db.destroy();
}
