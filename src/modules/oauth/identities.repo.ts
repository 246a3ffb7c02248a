import type { Knex } from 'knex';

/** A row of `user_identities`: an external account (provider, issuer, subject) linked to a user. */
export interface IdentityRow {
  id: string;
  user_id: string;
  provider: string;
  issuer: string;
  subject: string;
  email: string | null;
  email_verified: boolean;
  created_at: Date;
  last_used_at: Date | null;
}

/** Who the provider says signed in: the key of an identity, and the email it gave. */
export interface ExternalIdentity {
  provider: string;
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
}

const key = (identity: Pick<ExternalIdentity, 'provider' | 'issuer' | 'subject'>) => ({ provider: identity.provider, issuer: identity.issuer, subject: identity.subject });

/** The `user_identities` table (its one owner). */
export const identitiesRepo = {
  async findByKey(db: Knex, identity: Pick<ExternalIdentity, 'provider' | 'issuer' | 'subject'>): Promise<IdentityRow | undefined> {
    return db<IdentityRow>('user_identities').where(key(identity)).first();
  },

  /** Links the identity to the user; undefined when the identity is already linked (to anyone). */
  async insert(db: Knex, userId: string, identity: ExternalIdentity, now: Date): Promise<IdentityRow | undefined> {
    const rows = await db<IdentityRow>('user_identities')
      .insert({ user_id: userId, ...key(identity), email: identity.email, email_verified: identity.emailVerified, created_at: now, last_used_at: now })
      .onConflict(['provider', 'issuer', 'subject'])
      .ignore()
      .returning('*');
    return rows[0];
  },

  /** A sign-in with the identity: its last use and the email the provider gives now (the account's own email is not touched). */
  async touch(db: Knex, id: string, identity: ExternalIdentity, now: Date): Promise<void> {
    await db('user_identities').where({ id }).update({ email: identity.email, email_verified: identity.emailVerified, last_used_at: now });
  },

  async listForUser(db: Knex, userId: string): Promise<IdentityRow[]> {
    return db<IdentityRow>('user_identities').where({ user_id: userId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  },

  /** The user's identities, locked until the transaction ends (parallel unlinks serialise on them). */
  async lockForUser(trx: Knex.Transaction, userId: string): Promise<IdentityRow[]> {
    return trx<IdentityRow>('user_identities').where({ user_id: userId }).orderBy('id').forUpdate();
  },

  async delete(db: Knex, id: string): Promise<void> {
    await db('user_identities').where({ id }).delete();
  },
};
