import { hash, verify, Algorithm } from '@node-rs/argon2';
import { dictionary } from '@zxcvbn-ts/language-common';
import pLimit from 'p-limit';
import type { FieldError } from '../shared/errors.js';

export interface PasswordHashParams {
  memoryKiB: number;
  timeCost: number;
}

/** OWASP's argon2id recommendation: 19 MiB, t=2, p=1. */
export const owaspArgon2: PasswordHashParams = { memoryKiB: 19_456, timeCost: 2 };

/**
 * Every hash of the process (verifications, new hashes, decoys) waits here for one of libuv's
 * threads, which the entry point sizes to the cores (UV_THREADPOOL_SIZE): at most that many run,
 * so memory stays at that many times ARGON2_MEMORY_KIB whatever the load, and the other users of
 * the pool (file and log writes) are not starved behind a queue of hashes inside libuv.
 */
const hashSlots = pLimit(Number(process.env.UV_THREADPOOL_SIZE) || 4);
let running = 0;
let peak = 0;

function queued<T>(work: () => Promise<T>): Promise<T> {
  return hashSlots(async () => {
    peak = Math.max(peak, ++running);
    try {
      return await work();
    } finally {
      running--;
    }
  });
}

/** The hash queue: its bound, what runs and waits now, and the most that ever ran at once. */
export function hashingStats(): { concurrency: number; active: number; pending: number; peak: number } {
  return { concurrency: hashSlots.concurrency, active: running, pending: hashSlots.pendingCount, peak };
}

/** Hashes and verifies passwords with argon2id on libuv's thread pool (off the event loop). */
export class PasswordHasher {
  private decoyHash: Promise<string> | undefined;
  constructor(private readonly params: PasswordHashParams) {}

  hash(password: string): Promise<string> {
    return queued(() => hash(password, { algorithm: Algorithm.Argon2id, memoryCost: this.params.memoryKiB, timeCost: this.params.timeCost, parallelism: 1 }));
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await queued(() => verify(passwordHash, password));
    } catch {
      return false; // a malformed stored hash never matches
    }
  }

  /** Costs one verification for an unknown account, so timing does not reveal which exist. */
  async verifyDecoy(password: string): Promise<false> {
    this.decoyHash ??= this.hash('decoy-password-never-matches');
    await this.verify(await this.decoyHash, password);
    return false;
  }

  /** True when the hash was made with weaker parameters than the current ones. */
  needsRehash(passwordHash: string): boolean {
    const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash);
    if (!m) return true;
    return Number(m[1]) < this.params.memoryKiB || Number(m[2]) < this.params.timeCost;
  }
}

const commonPasswords = new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));

/**
 * The password policy (README "What to expect"): 8–128 characters with an upper-case letter, a lower-case letter, a digit and
 * a symbol; plus refusal of common passwords, also when only digits or symbols were appended.
 */
export function passwordPolicyViolations(password: string, context: string[] = []): FieldError[] {
  const problems: string[] = [];
  const length = [...password].length;
  if (length < 8) problems.push('at least 8 characters');
  if (length > 128) problems.push('at most 128 characters');
  if (!/\p{Lu}/u.test(password)) problems.push('an upper-case letter');
  if (!/\p{Ll}/u.test(password)) problems.push('a lower-case letter');
  if (!/\p{Nd}/u.test(password)) problems.push('a digit');
  if (!/[^\p{L}\p{Nd}\s]/u.test(password)) problems.push('a symbol');
  const errors: FieldError[] = [];
  if (problems.length) errors.push({ path: '/body/password', message: `The password needs ${problems.join(', ')}.` });
  const lower = password.toLowerCase();
  // "Password123!" and "abcd1234!" are common passwords with characters appended.
  const variants = [lower, lower.replace(/[^\p{L}\p{Nd}]+$/u, ''), lower.replace(/[^\p{L}]+$/u, '')];
  const personal = context.map((c) => c.toLowerCase()).filter((c) => c.length >= 4);
  if (variants.some((v) => commonPasswords.has(v)) || personal.some((c) => lower.includes(c))) {
    errors.push({ path: '/body/password', message: 'The password is too common or contains personal information.' });
  }
  return errors;
}
