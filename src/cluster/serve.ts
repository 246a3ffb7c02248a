import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { openInfrastructure, type OpenedInfrastructure } from '../infra/infrastructure.js';
import { OutboxWorker, type OutboxSenders } from '../infra/messages/outbox-worker.js';
import { TwilioSmsSender } from '../infra/messages/sms.js';
import { PostgresStore } from '../infra/store/postgres-store.js';
import { startServer, type RunningServer } from '../server.js';
import { flushLogs } from '../shared/logger.js';

/** The configured providers: SMTP for email, an SMS API for SMS; the others stay in the dev outbox. */
async function outboxSenders(config: Config): Promise<OutboxSenders> {
  const senders: OutboxSenders = {};
  if (config.SMTP_URL) {
    const { default: nodemailer } = await import('nodemailer'); // loaded only when mail is sent (~10 MB)
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

/** What a worker tells the supervisor once it serves. */
export interface WorkerReady {
  type: 'sesame:ready';
  url: string;
}

async function within(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Composition root of one serving process: database → fast-path store → app → listen, plus the
 * outbox worker. SIGTERM or SIGINT: stop accepting, let in-flight requests finish, then the
 * outbox worker, the pools and (last) the embedded PostgreSQL; then exit.
 */
export async function serve(config: Config, logger: Logger): Promise<void> {
  let infra: OpenedInfrastructure | undefined;
  let running: RunningServer | undefined;
  let worker: OutboxWorker | undefined;
  let purge: NodeJS.Timeout | undefined;

  const starting = (async () => {
    infra = await openInfrastructure(config, logger);
    running = await startServer({ config, logger, ...infra }, { host: config.HOST, port: config.PORT });
  })();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    await starting.catch(() => undefined); // a signal during start-up still closes what was opened
    clearInterval(purge);
    await running?.close();
    await within(config.SHUTDOWN_TIMEOUT_MS, worker?.stop() ?? Promise.resolve());
    await infra?.close();
    logger.info('stopped');
    await flushLogs(logger);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  try {
    await starting;
  } catch (err) {
    await infra?.close().catch(() => undefined);
    throw err;
  }
  if (stopping) return;
  const opened = infra!;
  const senders = await outboxSenders(config);
  if (senders.email || senders.sms) {
    worker = new OutboxWorker(opened.db, opened.clock, senders, logger, {
      from: config.MAIL_FROM,
      pollMs: config.OUTBOX_POLL_MS,
      maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
      backoffMs: config.OUTBOX_BACKOFF_MS,
    });
    worker.start();
  }
  const store = opened.store;
  if (store instanceof PostgresStore) {
    purge = setInterval(() => void store.purgeExpired().catch(() => undefined), 60_000);
    purge.unref();
  }
  const url = running!.url;
  if (cluster.isWorker) process.send!({ type: 'sesame:ready', url } satisfies WorkerReady);
  else logger.info({ url, docs: `${url}/docs`, ms: Math.round(performance.now()) }, 'Sésame is ready');
}
