import { createHash, randomInt } from 'node:crypto';
import type { Knex } from 'knex';

/** No look-alike characters (0/o, 1/l/i). */
const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
const codeLength = 10;
export const backupCodeCount = 10;

function newBackupCode(): string {
  let raw = '';
  for (let i = 0; i < codeLength; i++) raw += alphabet[randomInt(alphabet.length)];
  return `${raw.slice(0, 5)}-${raw.slice(5)}`;
}

/** Case and dashes are ignored: `7KQ2M-X9P4D`, `7kq2mx9p4d` and `7kq2m-x9p4d` are one code. */
export function hashBackupCode(code: string): string {
  return createHash('sha256').update(code.toLowerCase().replaceAll('-', '')).digest('hex');
}

/** The `mfa_backup_codes` table: single-use codes, stored only as hashes. */
export const backupCodesRepo = {
  /** Replaces every backup code of the user with fresh ones and returns them (shown once). */
  async replace(db: Knex, userId: string, now: Date): Promise<string[]> {
    const codes = new Set<string>();
    while (codes.size < backupCodeCount) codes.add(newBackupCode());
    await db('mfa_backup_codes').where({ user_id: userId }).delete();
    await db('mfa_backup_codes').insert([...codes].map((code) => ({ user_id: userId, code_hash: hashBackupCode(code), created_at: now })));
    return [...codes];
  },

  /** Uses a code up; false when it is wrong or already used (parallel uses: exactly one wins). */
  async consume(db: Knex, userId: string, code: string, now: Date): Promise<boolean> {
    const rows = await db('mfa_backup_codes')
      .where({ user_id: userId, code_hash: hashBackupCode(code) })
      .whereNull('used_at')
      .update({ used_at: now })
      .returning('id');
    return rows.length === 1;
  },

  async hasUnused(db: Knex, userId: string): Promise<boolean> {
    return (await db('mfa_backup_codes').where({ user_id: userId }).whereNull('used_at').first('id')) !== undefined;
  },

  async removeAll(db: Knex, userId: string): Promise<void> {
    await db('mfa_backup_codes').where({ user_id: userId }).delete();
  },
};
