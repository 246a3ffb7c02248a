import nodemailer from 'nodemailer';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { openInfrastructure, type OpenedInfrastructure } from './infra/infrastructure.js';
import { OutboxWorker, type OutboxSenders } from './infra/messages/outbox-worker.js';
import { TwilioSmsSender } from './infra/messages/sms.js';
import { PostgresStore } from './infra/store/postgres-store.js';
import { startServer, type RunningServer } from './server.js';
import { createLogger } from './shared/logger.js';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function within(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** The configured providers: SMTP for email, an SMS API for SMS; the others stay in the dev outbox. */
function outboxSenders(config: Config): OutboxSenders {
  const senders: OutboxSenders = {};
  if (config.SMTP_URL) {
    senders.email = nodemailer.createTransport({ url: config.SMTP_URL, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as never);
  }
  if (config.SMS_PROVIDER === 'twilio') {
    senders.sms = new TwilioSmsSender({
      apiUrl: config.SMS_API_URL,
      accountSid: config.SMS_ACCOUNT_SID!,
      authToken: config.SMS_AUTH_TOKEN!,
      from: config.SMS_FROM,
      messagingServiceSid: config.SMS_MESSAGING_SERVICE_SID,
    });
  }
  return senders;
}

/** Composition root: config → database → fast-path store → app → listen; SIGTERM drains. */
async function main(): Promise<void> {
  const startedAt = Date.now();
  const config = readConfig();
  const logger = createLogger(config.LOG_LEVEL);
  let infra: OpenedInfrastructure | undefined;
  let running: RunningServer | undefined;
  let worker: OutboxWorker | undefined;
  let purge: NodeJS.Timeout | undefined;

  let stopping = false;
  const stop = async (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    clearInterval(purge);
    await running?.close();
    await within(config.SHUTDOWN_TIMEOUT_MS, worker?.stop() ?? Promise.resolve());
    await infra?.close();
    logger.info('stopped');
    process.exit(code);
  };
  // Registered first, so a signal during start-up still stops the embedded PostgreSQL.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  try {
    infra = await openInfrastructure(config, logger);
    running = await startServer({ config, logger, ...infra }, { host: config.HOST, port: config.PORT });
  } catch (err) {
    await infra?.close().catch(() => undefined);
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const senders = outboxSenders(config);
  if (senders.email || senders.sms) {
    worker = new OutboxWorker(infra.db, infra.clock, senders, logger, {
      from: config.MAIL_FROM,
      pollMs: config.OUTBOX_POLL_MS,
      maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
      backoffMs: config.OUTBOX_BACKOFF_MS,
    });
    worker.start();
  }
  const store = infra.store;
  if (store instanceof PostgresStore) {
    purge = setInterval(() => void store.purgeExpired().catch(() => undefined), 60_000);
    purge.unref();
  }
  logger.info({ url: running.url, docs: `${running.url}/docs`, ms: Date.now() - startedAt }, 'Sésame is ready');
}

main().catch((err) => {
  process.stderr.write(`Sésame failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
