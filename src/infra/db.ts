import knexFactory, { type Knex } from 'knex';
import type { Logger } from 'pino';
import { migrationSource } from '../../migrations/index.js';
import { seed as seedActorTypes } from '../../seeds/001_actor_types.js';
import { seed as seedRbac } from '../../seeds/002_rbac.js';

export type Db = Knex;

/** A Knex pool; its own warnings ("Acquire connection error", with a stack) go to `logger` as JSON. */
export function createDb(url: string, poolMax = 10, logger?: Logger): Db {
  return knexFactory({
    client: 'pg',
    connection: url,
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 5000,
    ...(logger && {
      log: {
        warn: (message: unknown) => logger.warn({ knex: message }, 'database client warning'),
        error: (message: unknown) => logger.error({ knex: message }, 'database client error'),
        deprecate: (message: unknown) => logger.warn({ knex: message }, 'database client deprecation'),
        debug: (message: unknown) => logger.debug({ knex: message }, 'database client debug'),
      },
    }),
  });
}

/**
 * Brings the schema to the latest version and inserts the default catalogue (idempotent).
 * Instances starting together take turns on a PostgreSQL advisory lock (knex's own lock table
 * does not cover creating its bookkeeping tables).
 */
export async function migrateAndSeed(db: Db): Promise<void> {
  const lockId = 0x5e5a4e; // "sesame" migrations
  const connection = await db.client.acquireConnection();
  try {
    await db.raw('select pg_advisory_lock(?)', [lockId]).connection(connection);
    try {
      await db.migrate.latest({ migrationSource });
      await seedActorTypes(db);
      await seedRbac(db);
    } finally {
      await db.raw('select pg_advisory_unlock(?)', [lockId]).connection(connection);
    }
  } finally {
    await db.client.releaseConnection(connection);
  }
}

export { migrationSource };

/**
 * Inserts `row` only when `when` is true, as one statement whatever `when` is
 * (`insert … select … where ?`): flows that must cost the same for a known and an unknown
 * account (password reset, verification resend, registration) run the same statements either way.
 */
export async function insertIf(db: Knex, table: string, row: Record<string, unknown>, when: boolean): Promise<void> {
  await insertWhere(db, table, row, when);
}

/**
 * insertIf's statement, not run: `when` may also be an SQL condition (a Knex.Raw, e.g. on a CTE
 * of the statement it joins), and a value a Knex.Raw expression.
 */
export function insertWhere(db: Knex, table: string, row: Record<string, unknown>, when: boolean | Knex.Raw): Knex.Raw {
  const columns = Object.keys(row);
  const values = columns.map((c) => row[c]);
  return db.raw(`insert into ?? (${columns.map(() => '??').join(', ')}) select ${columns.map(() => '?').join(', ')} where ?`, [table, ...columns, ...values, when] as Knex.RawBinding[]);
}

/** A LIKE pattern matching what starts with `prefix` (its own `%`, `_` and `\` taken literally). */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
}
