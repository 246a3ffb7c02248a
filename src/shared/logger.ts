import { pino, type Logger } from 'pino';
import { maskPhone } from './phone.js';

/** JSON logs; credentials are redacted wherever they might appear. */
export function createLogger(level: string): Logger {
  return pino({
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
  });
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
