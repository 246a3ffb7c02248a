import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { systemClock, type Clock } from './clock.js';
import { createDb, migrateAndSeed, type Db } from './db.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';
import { PostgresStore } from './store/postgres-store.js';
import { RedisStore } from './store/redis-store.js';
import type { FastStore } from './store/store.js';

export interface OpenedInfrastructure {
  db: Db;
  store: FastStore;
  clock: Clock;
  keyEncryptionSecret: string;
  embedded?: EmbeddedDatabase;
  close(): Promise<void>;
}

/** Opens PostgreSQL (configured or embedded), migrates it, and opens the fast-path store. */
export async function openInfrastructure(config: Config, logger: Logger, clock: Clock = systemClock): Promise<OpenedInfrastructure> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.DATABASE_URL;
  if (!url) {
    logger.warn('DATABASE_URL is not set: using the embedded PostgreSQL under %s (development only)', config.DATA_DIR);
    embedded = await startEmbeddedPostgres(config.DATA_DIR, config.EMBEDDED_PG_PORT, logger);
    url = embedded.url;
  }
  const db = createDb(url, 10, logger);
  try {
    await migrateAndSeed(db);
    let store: FastStore;
    if (config.REDIS_URL) {
      store = await RedisStore.connect(config.REDIS_URL);
    } else {
      logger.warn('REDIS_URL is not set: the fast-path store runs on PostgreSQL');
      store = new PostgresStore(db, clock);
    }
    return {
      db,
      store,
      clock,
      embedded,
      keyEncryptionSecret: config.KEY_ENCRYPTION_KEY ?? devKeyEncryptionSecret(config.DATA_DIR, logger),
      close: async () => {
        await store.close();
        await db.destroy();
        await embedded?.stop();
      },
    };
  } catch (err) {
    await db.destroy();
    await embedded?.stop();
    throw err;
  }
}

/** Development only (production requires KEY_ENCRYPTION_KEY): a random secret kept in DATA_DIR. */
export function devKeyEncryptionSecret(dataDir: string, logger: Logger): string {
  const file = path.resolve(dataDir, 'key-encryption.secret');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  logger.warn('KEY_ENCRYPTION_KEY is not set: signing keys are encrypted with a development secret in %s', file);
  return readFileSync(file, 'utf8').trim();
}
