import type { Knex } from 'knex';

export interface UserTotpRow {
  user_id: string;
  secret_encrypted: string;
  confirmed_at: Date | null;
  last_used_step: string | null; // bigint
  created_at: Date;
  updated_at: Date;
}

/** The `user_totp` table: one encrypted TOTP secret per user, pending until confirmed. */
export const totpRepo = {
  /** The user's secret row; `lock` holds it until the transaction ends (serialises confirmations). */
  async find(db: Knex, userId: string, options: { lock?: boolean } = {}): Promise<UserTotpRow | undefined> {
    const query = db<UserTotpRow>('user_totp').where({ user_id: userId });
    if (options.lock) query.forUpdate();
    return query.first();
  },

  /** Stores a pending secret, replacing a pending one; false when a confirmed secret is there. */
  async savePending(db: Knex, userId: string, secretEncrypted: string, now: Date): Promise<boolean> {
    const rows = await db('user_totp')
      .insert({ user_id: userId, secret_encrypted: secretEncrypted, confirmed_at: null, last_used_step: null, created_at: now, updated_at: now })
      .onConflict('user_id')
      .merge(['secret_encrypted', 'confirmed_at', 'last_used_step', 'created_at', 'updated_at'])
      .where('user_totp.confirmed_at', null)
      .returning('user_id');
    return rows.length === 1;
  },

  /**
   * Records `step` as used, only if it is later than every step accepted before: a code is never
   * accepted twice, even by parallel requests.
   */
  async claimStep(db: Knex, userId: string, step: number): Promise<boolean> {
    const rows = await db('user_totp')
      .where({ user_id: userId })
      .andWhere((q) => q.whereNull('last_used_step').orWhere('last_used_step', '<', step))
      .update({ last_used_step: step })
      .returning('user_id');
    return rows.length === 1;
  },

  async confirm(db: Knex, userId: string, now: Date): Promise<void> {
    await db('user_totp').where({ user_id: userId }).update({ confirmed_at: now, updated_at: now });
  },

  async remove(db: Knex, userId: string): Promise<void> {
    await db('user_totp').where({ user_id: userId }).delete();
  },
};
