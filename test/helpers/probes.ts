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
