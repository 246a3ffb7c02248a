import type { Knex } from 'knex';
import type { User } from '../../sdk/src/types.gen.js';
import { likePrefix } from '../infra/db.js';
import type { Language } from '../infra/messages/templates.js';
import { keysetPage, type Page, type PageRequest } from '../shared/pagination.js';

export type UserStatus = 'pending_verification' | 'active' | 'suspended';

export interface UserRow {
  id: string;
  email: string | null;
  phone: string | null;
  password_hash: string | null;
  first_name: string | null;
  last_name: string | null;
  display_name: string | null;
  language: Language;
  avatar_url: string | null;
  status: UserStatus;
  email_verified_at: Date | null;
  /** When an SMS code proved the phone: a verified phone signs in and is unique among live accounts. */
  phone_verified_at: Date | null;
  is_guest: boolean;
  analytics_consent: boolean;
  marketing_consent: boolean;
  password_changed_at: Date | null;
  mfa_enabled_at: Date | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export type UserMetadata = Record<string, unknown>;

/** A user row with its free-form metadata (every `select *` of users carries the column). */
export interface UserRecord extends UserRow {
  metadata: UserMetadata;
}

/** The user as the API shows it: the spec's `User` schema, as generated into the SDK. */
export type UserDto = User;

export function toUserDto(row: UserRow, actorTypes: string[]): UserDto {
  return {
    id: row.id,
    email: row.email,
    phone: row.phone,
    first_name: row.first_name,
    last_name: row.last_name,
    display_name: row.display_name,
    language: row.language,
    avatar_url: row.avatar_url,
    status: row.status,
    email_verified: row.email_verified_at !== null,
    phone_verified: row.phone_verified_at !== null,
    is_guest: row.is_guest,
    actor_types: actorTypes,
    consents: { analytics: row.analytics_consent, marketing: row.marketing_consent },
    mfa_enabled: row.mfa_enabled_at !== null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** How a user is named in audit rows (masked there): the email, else the phone number. */
export function identifierOf(user: Pick<UserRow, 'email' | 'phone'>): string | null {
  return user.email ?? user.phone;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** What an administrator's user search asks for (README "Administration"); every given criterion must hold. */
export interface UserSearch {
  /** Start of the email (emails are stored lower-cased). */
  emailPrefix?: string;
  /** Start of the first, last or display name, or of "first last", in any case. */
  namePrefix?: string;
  /** Start of the E.164 phone number. */
  phonePrefix?: string;
  status?: UserStatus;
  isGuest?: boolean;
  /** Inclusive. */
  createdFrom?: Date;
  /** Exclusive. */
  createdBefore?: Date;
  /**
   * Subqueries selecting user ids (one column) the user must be among: holders of an actor type
   * or a role (from their repositories), and whatever other sets later features add.
   */
  among?: Knex.QueryBuilder[];
}

/** The `users` table. */
export const usersRepo = {
  async findLiveByEmail(db: Knex, email: string): Promise<UserRow | undefined> {
    return db<UserRow>('users').where({ email: normalizeEmail(email) }).whereNull('deleted_at').first();
  },

  async findLiveById(db: Knex, id: string): Promise<UserRow | undefined> {
    return db<UserRow>('users').where({ id }).whereNull('deleted_at').first();
  },

  /**
   * findLiveById with the names of the actor types the user holds, strictest first, in the same
   * statement (`heldNames`: actorTypesRepo.heldNamesQuery on `users.id`).
   */
  async findLiveByIdWithActorTypes(db: Knex, id: string, heldNames: (userId: Knex.Ref<string, Record<string, string>>) => Knex.QueryBuilder): Promise<(UserRow & { actor_types: string[] }) | undefined> {
    return db('users').where({ id }).whereNull('deleted_at').first('users.*', heldNames(db.ref('users.id')).as('actor_types'));
  },

  /** The live user's row by email, locked until the transaction ends (parallel requests serialise on it). */
  async lockLiveByEmail(trx: Knex.Transaction, email: string): Promise<UserRow | undefined> {
    return trx<UserRow>('users').where({ email: normalizeEmail(email) }).whereNull('deleted_at').forUpdate().first();
  },

  /** The live user whose verified phone is `phone` (E.164). */
  async findLiveByVerifiedPhone(db: Knex, phone: string): Promise<UserRow | undefined> {
    return db<UserRow>('users').where({ phone }).whereNotNull('phone_verified_at').whereNull('deleted_at').first();
  },

  /** The identifier of a user (deleted or not: email, else phone), for an audit row's masked identifier. */
  async identifierOf(db: Knex, id: string): Promise<string | null> {
    const row: { email: string | null; phone: string | null } | undefined = await db('users').where({ id }).first('email', 'phone');
    return row ? identifierOf(row) : null;
  },

  /** The email of a user (deleted or not), for an audit row's masked identifier. */
  async emailOf(db: Knex, id: string): Promise<string | null> {
    const row: { email: string | null } | undefined = await db('users').where({ id }).first('email');
    return row?.email ?? null;
  },

  async insert(db: Knex, user: Partial<UserRow> & { terms_accepted_at?: Date }): Promise<UserRecord> {
    const [row] = await db<UserRecord>('users').insert(user).returning('*');
    return row as UserRecord;
  },

  async update(db: Knex, id: string, changes: Partial<UserRow>): Promise<UserRow> {
    const [row] = await db<UserRow>('users').where({ id }).update(changes).returning('*');
    return row as UserRow;
  },

  /** The live user with its metadata; `lock` holds the row until the transaction ends. */
  async findLiveRecord(db: Knex, id: string, options: { lock?: boolean } = {}): Promise<UserRecord | undefined> {
    const query = db<UserRecord>('users').where({ id }).whereNull('deleted_at').first();
    return options.lock ? query.forUpdate() : query;
  },

  async updateRecord(db: Knex, id: string, changes: Partial<UserRecord> & { terms_accepted_at?: Date }): Promise<UserRecord> {
    const [row] = await db<UserRecord>('users').where({ id }).update(changes).returning('*');
    return row as UserRecord;
  },

  /** Live users matching `search`, newest first, a keyset page at a time. */
  async search(db: Knex, search: UserSearch, page: PageRequest): Promise<Page<UserRow>> {
    const query = db('users').select('*').whereNull('deleted_at');
    if (search.emailPrefix !== undefined) query.where('email', 'like', likePrefix(normalizeEmail(search.emailPrefix)));
    if (search.phonePrefix !== undefined) query.where('phone', 'like', likePrefix(search.phonePrefix));
    if (search.namePrefix !== undefined) {
      const pattern = likePrefix(search.namePrefix.trim().toLowerCase());
      query.where((q) =>
        q
          .whereRaw('lower(first_name) like ?', [pattern])
          .orWhereRaw('lower(last_name) like ?', [pattern])
          .orWhereRaw('lower(display_name) like ?', [pattern])
          .orWhereRaw("lower(first_name || ' ' || last_name) like ?", [pattern]),
      );
    }
    if (search.status !== undefined) query.where({ status: search.status });
    if (search.isGuest !== undefined) query.where({ is_guest: search.isGuest });
    if (search.createdFrom) query.where('created_at', '>=', search.createdFrom);
    if (search.createdBefore) query.where('created_at', '<', search.createdBefore);
    for (const ids of search.among ?? []) query.whereIn('id', ids);
    return keysetPage<UserRow>(db, query, page);
  },

  /** The users among `ids` that exist (deleted or not), by id, with their email. */
  async findByIds(db: Knex, ids: string[]): Promise<Array<{ id: string; email: string | null; deleted_at: Date | null }>> {
    return ids.length ? db('users').whereIn('id', ids).select('id', 'email', 'deleted_at') : [];
  },

  /** The live users among these emails (normalized), with their id. */
  async findLiveByEmails(db: Knex, emails: string[]): Promise<Array<{ id: string; email: string }>> {
    return emails.length ? db('users').whereIn('email', emails.map(normalizeEmail)).whereNull('deleted_at').select('id', 'email') : [];
  },
};
