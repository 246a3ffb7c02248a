import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../infra/embedded-postgres.js';
import { devKeyEncryptionSecret } from '../infra/infrastructure.js';
import { flushLogs } from '../shared/logger.js';
import type { WorkerReady } from './serve.js';

/** A worker that dies this soon after starting counts as a crash loop: restarts back off. */
const steadyAfterMs = 30_000;
const maxBackoffMs = 10_000;

/**
 * The primary of `WORKERS` > 1 (README "Running"): starts the embedded PostgreSQL once (when there is
 * no DATABASE_URL) and hands its URL to the workers, forks the workers (each a whole server
 * sharing nothing but PostgreSQL and the fast-path store), replaces a worker that dies, and on
 * SIGTERM or SIGINT lets every worker drain before it stops the embedded database and exits.
 * A worker that fails before serving (a bad setting, a port in use) stops the whole start.
 */
export async function supervise(config: Config, logger: Logger): Promise<void> {
  const env: Record<string, string> = {};
  let embedded: EmbeddedDatabase | undefined;
  if (!config.DATABASE_URL) {
    logger.warn('DATABASE_URL is not set: using the embedded PostgreSQL under %s (development only)', config.DATA_DIR);
    embedded = await startEmbeddedPostgres(config.DATA_DIR, config.EMBEDDED_PG_PORT, logger);
    env.DATABASE_URL = embedded.url;
  }
  if (!config.KEY_ENCRYPTION_KEY) devKeyEncryptionSecret(config.DATA_DIR, logger); // made once, read by every worker

  const ready = new Set<number>();
  const startedAt = new Map<number, number>();
  let quickDeaths = 0;
  let stopping = false;
  let announced = false;

  const fork = () => {
    const worker = cluster.fork(env);
    startedAt.set(worker.id, Date.now());
    return worker;
  };
  const finish = async (code: number) => {
    await embedded?.stop().catch((err: unknown) => logger.error({ err }, 'the embedded PostgreSQL did not stop'));
    logger.info('stopped');
    await flushLogs(logger);
    process.exit(code);
  };
  const stopAll = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason, workers: Object.keys(cluster.workers ?? {}).length }, 'shutting down: the workers finish their in-flight requests');
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
    const force = setTimeout(() => alive.forEach((w) => w.process.kill('SIGKILL')), config.SHUTDOWN_TIMEOUT_MS + 5000);
    await Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
    clearTimeout(force);
    await finish(code);
  };

  cluster.on('message', (worker, message: WorkerReady) => {
    if (message?.type !== 'sesame:ready') return;
    ready.add(worker.id);
    if (announced) logger.info({ worker: worker.process.pid }, 'a new worker is ready');
    else if (ready.size === config.WORKERS) {
      announced = true;
      logger.info({ url: message.url, docs: `${message.url}/docs`, workers: config.WORKERS, ms: Math.round(performance.now()) }, 'Sésame is ready');
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    const served = ready.delete(worker.id);
    if (stopping) return;
    if (!served) {
      logger.error({ worker: worker.process.pid, code, signal }, 'a worker failed to start');
      void stopAll('a worker failed to start', code || 1);
      return;
    }
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
    quickDeaths = lived < steadyAfterMs ? quickDeaths + 1 : 0;
    const delay = quickDeaths ? Math.min(maxBackoffMs, 100 * 2 ** quickDeaths) : 0;
    logger.error({ worker: worker.process.pid, code, signal, restartInMs: delay }, 'a worker died: starting another');
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  });
  process.on('SIGTERM', () => void stopAll('SIGTERM', 0));
  process.on('SIGINT', () => void stopAll('SIGINT', 0));

  for (let i = 0; i < config.WORKERS; i++) fork();
}
