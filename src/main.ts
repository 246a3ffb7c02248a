import nodemailer from 'nodemailer';
import { ConfigError, loadConfig } from './config/config.js';
import { openInfrastructure } from './infra/infrastructure.js';
import { OutboxWorker } from './infra/messages/outbox-worker.js';
import { PostgresStore } from './infra/store/postgres-store.js';
import { startServer } from './server.js';
import { createLogger } from './shared/logger.js';

/** Composition root: config → database → fast-path store → app → listen; SIGTERM drains. */
async function main(): Promise<void> {
  const startedAt = Date.now();
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.LOG_LEVEL);
  const infra = await openInfrastructure(config, logger);
  const running = await startServer({ config, logger, ...infra }, { host: config.HOST, port: config.PORT });

  const worker = config.SMTP_URL
    ? new OutboxWorker(infra.db, infra.clock, nodemailer.createTransport(config.SMTP_URL), logger, {
        from: config.MAIL_FROM,
        pollMs: config.OUTBOX_POLL_MS,
        maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
        backoffMs: config.OUTBOX_BACKOFF_MS,
      })
    : undefined;
  worker?.start();
  const purge = infra.store instanceof PostgresStore ? setInterval(() => void (infra.store as PostgresStore).purgeExpired().catch(() => undefined), 60_000) : undefined;
  purge?.unref();

  logger.info({ url: running.url, docs: `${running.url}/docs`, ms: Date.now() - startedAt }, 'Sésame is ready');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    clearInterval(purge);
    await running.close();
    await worker?.stop();
    await infra.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`Sésame failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
