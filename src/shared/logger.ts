import { pino, type Logger } from 'pino';
import { maskPhone } from './phone.js';

/**
 * JSON logs, one compact line per event; credentials are redacted wherever they might appear.
 * Writes are asynchronous (the event loop never waits on the terminal or a pipe); `flushLogs`
 * before exiting, and pino flushes synchronously on `exit` as a last resort.
 */
export function createLogger(level: string, fd: 1 | 2 = 1): Logger {
  return pino(
    {
      level,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-api-key"]',
          'res.headers["set-cookie"]',
          '*.password',
          '*.token',
          '*.refresh_token',
          '*.access_token',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: fd, sync: false }),
  );
}

/** Resolves once every line written so far has reached the destination. */
export function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}

/** Masks an email for logs and audit rows: jean.dupont@example.com → j***t@example.com. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '***';
  const local = email.slice(0, at);
  const shown = local.length <= 2 ? `${local[0]}***` : `${local[0]}***${local[local.length - 1]}`;
  return `${shown}${email.slice(at)}`;
}

/** Masks an identifier (an email, or a phone number in E.164) for logs and audit rows. */
export function maskIdentifier(identifier: string): string {
  return /^\+[0-9]+$/.test(identifier) ? maskPhone(identifier) : maskEmail(identifier);
}
