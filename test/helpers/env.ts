import knexFactory, { type Knex } from 'knex';
import { loadConfig, type Config } from '../../src/config/config.js';

/** The test database and Redis (real services); overridable for other machines. */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/sesame_test';
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Test configuration: real services, fast password hashing, silent logs. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: testDatabaseUrl,
    REDIS_URL: testRedisUrl,
    KEY_ENCRYPTION_KEY: 'test-only-key-encryption-secret-0123456789',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    PUBLIC_URL: 'http://sesame.test',
    APP_URL: 'http://app.sesame.test',
    CORS_ORIGINS: 'http://app.sesame.test',
    // Every suite logs in from 127.0.0.1: rate limits are off unless a test turns one on.
    RATE_LIMIT_LOGIN_IP: 'off',
    RATE_LIMIT_LOGIN_EMAIL: 'off',
    RATE_LIMIT_REGISTER_IP: 'off',
    RATE_LIMIT_GUEST_IP: 'off',
    RATE_LIMIT_PASSWORD_RESET_EMAIL: 'off',
    RATE_LIMIT_VERIFICATION_RESEND_EMAIL: 'off',
    RATE_LIMIT_OAUTH_IP: 'off',
    RATE_LIMIT_SMS_IP: 'off',
    RATE_LIMIT_QR_IP: 'off',
    // Suites share the country budgets' rows: the budget suite turns its own on.
    SMS_COUNTRY_BUDGET: 'off',
    ...overrides,
  });
}

/** The URL of another database on the test server. */
export function urlFor(database: string): string {
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs work on a connection to the server's `postgres` database (create/drop databases). */
export async function withAdmin<T>(work: (admin: Knex) => Promise<T>): Promise<T> {
  const admin = knexFactory({ client: 'pg', connection: urlFor('postgres'), pool: { min: 0, max: 1 } });
  try {
    return await work(admin);
  } finally {
    await admin.destroy();
  }
}

/** Creates the test database when it does not exist yet. */
export async function ensureTestDatabase(): Promise<void> {
  const name = new URL(testDatabaseUrl).pathname.slice(1);
  await withAdmin(async (admin) => {
    const exists = await admin.raw('select 1 from pg_database where datname = ?', [name]);
    if (!exists.rows.length) await admin.raw(`create database "${name.replace(/"/g, '')}"`);
  });
}
