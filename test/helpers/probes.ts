import { generate } from 'otplib';
import type { TestApp } from './app.js';

/** Counts the argon2 verifications the app runs (the decoy one goes through verify too) until restored. */
export function countVerifications(app: TestApp) {
  const hasher = app.running.container.hasher;
  let count = 0;
  hasher.verify = (hash, password) => {
    count++;
    return Object.getPrototypeOf(hasher).verify.call(hasher, hash, password);
  };
  return {
    get count() {
      return count;
    },
    restore() {
      delete (hasher as { verify?: unknown }).verify;
    },
  };
}

/** A row of `audit_logs`, as the tests read it. */
export interface AuditRow {
  id: string;
  user_id: string | null;
  session_id: string | null;
  event: string;
  identifier: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
  created_at: Date;
}

/** TOTP codes of `secret` at the app's clock, computed by an independent implementation (otplib). */
export function totpCodes(app: () => TestApp) {
  /** The code `steps` 30-second steps away from now. */
  const codeAt = (secret: string, steps = 0) => generate({ secret, epoch: Math.floor(app().clock.now().getTime() / 1000) + steps * 30 });
  /** A code that is none of the codes accepted now (the current step and one either side). */
  const wrongCode = async (secret: string) => {
    const accepted = new Set([await codeAt(secret, -1), await codeAt(secret), await codeAt(secret, 1)]);
    let n = 0;
    while (accepted.has(String(n).padStart(6, '0'))) n++;
    return String(n).padStart(6, '0');
  };
  /** Moves to the next 30 s step, so the next code is one never used. */
  const nextStep = () => app().clock.advance(30_000);
  return { codeAt, wrongCode, nextStep };
}
