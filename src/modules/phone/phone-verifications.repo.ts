import type { Knex } from 'knex';

export type VerificationPurpose = 'registration' | 'login' | 'recovery';

/** A row of `phone_verifications`: one code sent (and perhaps re-sent) to one number for one purpose. */
export interface PhoneVerificationRow {
  id: string;
  phone: string;
  country: string;
  purpose: VerificationPurpose;
  code_digest: string;
  attempts: number;
  sends: number;
  created_at: Date;
  last_sent_at: Date;
  expires_at: Date;
  confirmed_at: Date | null;
  consumed_at: Date | null;
}

/** `phone_verifications`. Every state change is one conditional update, safe under races. */
export const phoneVerificationsRepo = {
  /** Serialises the requests for one number and purpose until the transaction ends. */
  async lockNumber(trx: Knex.Transaction, phone: string, purpose: VerificationPurpose): Promise<void> {
    await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`phone-verification:${purpose}:${phone}`]);
  },

  /** The newest verification of the number and purpose that is still unused and unexpired. */
  async latestLive(trx: Knex, phone: string, purpose: VerificationPurpose, now: Date): Promise<PhoneVerificationRow | undefined> {
    return trx<PhoneVerificationRow>('phone_verifications')
      .where({ phone, purpose })
      .whereNull('consumed_at')
      .andWhere('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .first();
  },

  async insert(trx: Knex, row: Omit<PhoneVerificationRow, 'attempts' | 'sends' | 'confirmed_at' | 'consumed_at'>): Promise<void> {
    await trx('phone_verifications').insert({ ...row, attempts: 0, sends: 1 });
  },

  /** A resend: a new code under the same id, the wrong-try count kept. */
  async resend(trx: Knex, id: string, codeDigest: string, now: Date, expiresAt: Date): Promise<void> {
    await trx('phone_verifications')
      .where({ id })
      .update({ code_digest: codeDigest, sends: trx.raw('sends + 1'), last_sent_at: now, expires_at: expiresAt });
  },

  /** Ends a verification another one replaces. */
  async supersede(trx: Knex, id: string, now: Date): Promise<void> {
    await trx('phone_verifications').where({ id }).whereNull('consumed_at').update({ consumed_at: now });
  },

  async lock(trx: Knex.Transaction, id: string): Promise<PhoneVerificationRow | undefined> {
    return trx<PhoneVerificationRow>('phone_verifications').where({ id }).forUpdate().first();
  },

  async find(db: Knex, id: string): Promise<PhoneVerificationRow | undefined> {
    return db<PhoneVerificationRow>('phone_verifications').where({ id }).first();
  },

  async confirm(trx: Knex, id: string, now: Date): Promise<void> {
    await trx('phone_verifications').where({ id }).update({ confirmed_at: now });
  },

  /** Counts a wrong code; returns the count. */
  async recordFailure(trx: Knex, id: string): Promise<number> {
    const [row] = await trx('phone_verifications').where({ id }).update({ attempts: trx.raw('attempts + 1') }).returning('attempts');
    return (row as { attempts: number }).attempts;
  },

  /** Uses up a confirmed, unexpired verification of `purpose`; undefined when it cannot be (anymore). */
  async consume(trx: Knex, id: string, purpose: VerificationPurpose, now: Date): Promise<PhoneVerificationRow | undefined> {
    const [row] = await trx<PhoneVerificationRow>('phone_verifications')
      .where({ id, purpose })
      .whereNotNull('confirmed_at')
      .whereNull('consumed_at')
      .andWhere('expires_at', '>', now)
      .update({ consumed_at: now })
      .returning('*');
    return row as PhoneVerificationRow | undefined;
  },
};
