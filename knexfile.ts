import type { Knex } from 'knex';
import { migrationSource } from './migrations/index.js';

/**
 * Knex configuration for running migrations against your own PostgreSQL (DATABASE_URL).
 * `npm run migrate` / `npm run migrate:rollback` use it; the server also migrates at start.
 */
const config: Knex.Config = {
  client: 'pg',
  connection: process.env.DATABASE_URL,
  migrations: { migrationSource },
};

export default config;
