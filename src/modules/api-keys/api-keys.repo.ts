import type { Knex } from 'knex';
import type { OrgRole } from '../../identity/org-roles.js';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.js';

export interface ApiKeyRow {
  id: string;
  user_id: string;
  organization_id: string | null;
  org_membership_id: string | null;
  name: string;
  prefix: string;
  last_four: string;
  secret_hash: string;
  previous_secret_hash: string | null;
  previous_expires_at: Date | null;
  permissions: string[];
  expires_at: Date | null;
  created_at: Date;
  rotated_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

/** A key found by one of its secrets' hash, with what decides whether it may act now. */
export interface KeyCandidate extends ApiKeyRow {
  owner_status: string;
  owner_is_guest: boolean;
  /** The owner's role in the key's organization, through the membership it was made under; null once that membership is gone or the organization deleted. */
  org_role: OrgRole | null;
}

/** Keys that can still work: not revoked, and an organization key whose membership and organization last. */
function usable(db: Knex, query: Knex.QueryBuilder): Knex.QueryBuilder {
  return query.whereNull('k.revoked_at').where((q) =>
    q.whereNull('k.organization_id').orWhereExists(
      db('organization_members as m').join('organizations as o', 'o.id', 'm.organization_id').whereRaw('m.id = k.org_membership_id').whereNull('o.deleted_at'),
    ),
  );
}

/** `api_keys`: secrets are stored as SHA-256 hashes only, and looked up by them. */
export const apiKeysRepo = {
  async insert(trx: Knex.Transaction, row: Omit<ApiKeyRow, 'id' | 'previous_secret_hash' | 'previous_expires_at' | 'rotated_at' | 'last_used_at' | 'revoked_at'>): Promise<ApiKeyRow> {
    const [created] = await trx<ApiKeyRow>('api_keys').insert(row).returning('*');
    return created!;
  },

  /**
   * The unrevoked, unexpired key one of whose live secrets hashes to `hash` (the current one,
   * or the previous one within its grace), with its owner's state; one indexed read.
   */
  async findByHash(db: Knex, hash: string, now: Date): Promise<KeyCandidate | undefined> {
    return db('api_keys as k')
      .join('users as u', 'u.id', 'k.user_id')
      .leftJoin('organization_members as m', 'm.id', 'k.org_membership_id')
      .leftJoin('organizations as o', (on) => on.on('o.id', 'k.organization_id').andOnNull('o.deleted_at'))
      .where((q) => q.where('k.secret_hash', hash).orWhere((p) => p.where('k.previous_secret_hash', hash).where('k.previous_expires_at', '>', now)))
      .whereNull('k.revoked_at')
      .whereNull('u.deleted_at')
      .where((q) => q.whereNull('k.expires_at').orWhere('k.expires_at', '>', now))
      .first('k.*', 'u.status as owner_status', 'u.is_guest as owner_is_guest', db.raw('case when o.id is null then null else m.role end as org_role'));
  },

  /** The user's keys that can still work, newest first. */
  async listUsable(db: Knex, userId: string, page: PageRequest): Promise<Page<ApiKeyRow>> {
    const rows = usable(db, db('api_keys as k').where('k.user_id', userId)).select('k.*');
    return keysetPage<ApiKeyRow>(db, db.select('*').from(rows.as('x')), page);
  },

  /** The user's key, if it can still work, locked until the transaction ends. */
  async lockUsable(trx: Knex.Transaction, userId: string, id: string): Promise<ApiKeyRow | undefined> {
    return usable(trx, trx('api_keys as k').where({ 'k.id': id, 'k.user_id': userId })).forUpdate('k').first('k.*');
  },

  async revoke(trx: Knex.Transaction, id: string, now: Date): Promise<void> {
    await trx('api_keys').where({ id }).update({ revoked_at: now });
  },

  /** Revokes every key of the user not revoked yet (expired ones too: nothing revives them); returns how many. */
  async revokeAllOf(trx: Knex.Transaction, userId: string, now: Date): Promise<number> {
    return trx('api_keys').where({ user_id: userId }).whereNull('revoked_at').update({ revoked_at: now });
  },

  async rotate(trx: Knex.Transaction, id: string, changes: Pick<ApiKeyRow, 'prefix' | 'last_four' | 'secret_hash' | 'previous_secret_hash' | 'previous_expires_at' | 'rotated_at'>): Promise<ApiKeyRow> {
    const [row] = await trx<ApiKeyRow>('api_keys').where({ id }).update(changes).returning('*');
    return row!;
  },

  /** Records when keys were last used, in one statement (never moving a time backwards). */
  async recordUse(db: Knex, uses: Array<{ id: string; at: Date }>): Promise<void> {
    if (!uses.length) return;
    const values = uses.map(() => '(?::uuid, ?::timestamptz)').join(', ');
    await db.raw(
      `update api_keys as k set last_used_at = greatest(coalesce(k.last_used_at, v.at), v.at) from (values ${values}) as v(id, at) where k.id = v.id`,
      uses.flatMap((u) => [u.id, u.at]),
    );
  },
};
