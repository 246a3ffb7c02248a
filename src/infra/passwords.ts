import { hash, verify, Algorithm } from '@node-rs/argon2';
import { dictionary } from '@zxcvbn-ts/language-common';
import bcrypt from 'bcryptjs';
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

/**
 * A bcrypt hash as OpenBSD, PHP, Python and Node write it: `$2a$`, `$2b$` or `$2y$`, a two-digit
 * cost, a 22-character salt and a 31-character digest in bcrypt's base64. The last character of
 * each carries unused bits that must be zero (only `.Oeu` and `.CGKOSWaeimquy26` can end them): a
 * hash ending otherwise was never written by bcrypt and could never match.
 */
const bcryptHash = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{30}[.CGKOSWaeimquy26]$/;

/**
 * The bcrypt costs an imported hash may have: bcrypt's minimum, 4, up to 14 (each step doubles
 * the work; 14 is some seconds of bcryptjs, which a sign-in may spend once, before the upgrade).
 */
export const importedBcryptCosts = { min: 4, max: 14 };

function isBcrypt(passwordHash: string): boolean {
  const cost = Number(bcryptHash.exec(passwordHash)?.[1] ?? Number.NaN);
  return cost >= importedBcryptCosts.min && cost <= importedBcryptCosts.max;
}

/** An argon2 PHC string (argon2id, argon2i or argon2d, version 1.0 or 1.3) with unpadded base64 salt and digest. */
const argon2Hash = /^\$argon2(?:id|i|d)\$v=(?:16|19)\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/**
 * The costliest argon2 parameters an imported hash may have: each one is verified at a sign-in
 * (until it is upgraded), so its memory and time must be what a sign-in may spend.
 */
export const importedArgon2Limits = { maxMemoryKiB: 262_144, maxTimeCost: 16, maxParallelism: 16 };

/** The bytes of unpadded standard base64 in its one canonical spelling, else undefined. */
function canonicalBase64(text: string): Buffer | undefined {
  if (text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === text ? bytes : undefined;
}

/**
 * Whether `passwordHash` is a hash PasswordHasher.verify can check (README "Administration":
 * imports refuse any other, so a hash is never found malformed at a sign-in): bcrypt, or argon2
 * with sane parameters, a salt of 8–64 bytes and a digest of 16–64 bytes.
 */
export function isVerifiableHash(passwordHash: string): boolean {
  if (isBcrypt(passwordHash)) return true;
  const m = argon2Hash.exec(passwordHash);
  if (!m) return false;
  const [memory, time, lanes] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (lanes < 1 || lanes > importedArgon2Limits.maxParallelism || time < 1 || time > importedArgon2Limits.maxTimeCost) return false;
  if (memory < 8 * lanes || memory > importedArgon2Limits.maxMemoryKiB) return false;
  const salt = canonicalBase64(m[4]!);
  const digest = canonicalBase64(m[5]!);
  return salt !== undefined && salt.length >= 8 && salt.length <= 64 && digest !== undefined && digest.length >= 16 && digest.length <= 64;
}

/**
 * Hashes and verifies passwords with argon2id on libuv's thread pool (off the event loop).
 * Imported bcrypt hashes are verified too (bcryptjs, pure JavaScript, in slices that yield to the
 * event loop) until the first sign-in replaces them (needsRehash).
 */
export class PasswordHasher {
  private decoyHash: Promise<string> | undefined;
  constructor(private readonly params: PasswordHashParams) {}

  hash(password: string): Promise<string> {
    return queued(() => hash(password, { algorithm: Algorithm.Argon2id, memoryCost: this.params.memoryKiB, timeCost: this.params.timeCost, parallelism: 1 }));
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      if (isBcrypt(passwordHash)) return await queued(() => bcrypt.compare(password, passwordHash));
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

  /** True when the hash is not argon2id (bcrypt, argon2i/d) or was made with weaker parameters than the current ones. */
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
