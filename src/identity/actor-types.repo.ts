import type { Knex } from 'knex';
import type { ActorType, ActorTypePolicy, ActorTypePublic } from '../../sdk/src/types.gen.js';
import { namesByUser } from '../shared/collections.js';

/** An actor type's policy (README "Actor types"), as the policy decisions read it: a row of `actor_types`. */
export interface ActorTypeRow {
  name: string;
  allowed_methods: string[];
  self_signup: boolean;
  require_2fa: boolean;
  access_token_ttl: number;
  session_duration: number;
  allow_impersonation: boolean;
  priority: number;
}

/** A row of `actor_types`, every column. */
export interface ActorTypeRecord extends ActorTypeRow {
  description: string;
  created_at: Date;
  updated_at: Date;
}

const publicColumns = ['name', 'description', 'allowed_methods', 'self_signup', 'require_2fa'] as const;

export function toActorTypeDto(row: ActorTypeRecord): ActorType {
  return {
    name: row.name,
    description: row.description,
    allowed_methods: row.allowed_methods,
    self_signup: row.self_signup,
    require_2fa: row.require_2fa,
    access_token_ttl: row.access_token_ttl,
    session_duration: row.session_duration,
    allow_impersonation: row.allow_impersonation,
    priority: row.priority,
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * `actor_types` (the policies) and `user_actor_types` (who holds which), read straight from
 * PostgreSQL (no cache: an edit applies at once on every instance).
 */
export const actorTypesRepo = {
  /** The user's actor types, strictest (highest priority) first. */
  async heldBy(db: Knex, userId: string): Promise<ActorTypeRow[]> {
    return db<ActorTypeRow>('actor_types')
      .join('user_actor_types', 'user_actor_types.actor_type', 'actor_types.name')
      .where('user_actor_types.user_id', userId)
      .orderBy([{ column: 'actor_types.priority', order: 'desc' }, { column: 'actor_types.name' }])
      .select('actor_types.*');
  },

  /** The names heldBy would list, as one array value: a subquery for a statement that reads the user too. */
  heldNamesQuery(db: Knex, userId: Knex.Ref<string, Record<string, string>>): Knex.QueryBuilder {
    return db('actor_types as t')
      .join('user_actor_types as h', 'h.actor_type', 't.name')
      .where('h.user_id', userId)
      .select(db.raw(`coalesce(array_agg(t.name order by t.priority desc, t.name), '{}')`));
  },

  async grant(db: Knex, userId: string, actorType: string): Promise<void> {
    await db('user_actor_types').insert({ user_id: userId, actor_type: actorType }).onConflict(['user_id', 'actor_type']).ignore();
  },

  async remove(db: Knex, userId: string, actorType: string): Promise<void> {
    await db('user_actor_types').where({ user_id: userId, actor_type: actorType }).delete();
  },

  /** A subquery of the ids of the users holding the actor type. */
  holdersOf(db: Knex, actorType: string): Knex.QueryBuilder {
    return db('user_actor_types').where({ actor_type: actorType }).select('user_id');
  },

  /** The names of the actor types each of these users holds, strictest first. */
  async namesHeldBy(db: Knex, userIds: string[]): Promise<Map<string, string[]>> {
    const rows: Array<{ user_id: string; name: string }> = userIds.length
      ? await db('user_actor_types')
          .join('actor_types', 'actor_types.name', 'user_actor_types.actor_type')
          .whereIn('user_actor_types.user_id', userIds)
          .orderBy([{ column: 'actor_types.priority', order: 'desc' }, { column: 'actor_types.name' }])
          .select('user_actor_types.user_id', 'actor_types.name')
      : [];
    return namesByUser(rows);
  },

  /** Which of these names are actor types. */
  async existing(db: Knex, names: string[]): Promise<Set<string>> {
    const rows: Array<{ name: string }> = names.length ? await db('actor_types').whereIn('name', names).select('name') : [];
    return new Set(rows.map((r) => r.name));
  },

  /** The public subset of every type, by priority then name. */
  async listPublic(db: Knex): Promise<ActorTypePublic[]> {
    return db('actor_types')
      // Byte order for names, whatever the database's locale, so every deployment lists alike.
      .orderByRaw('priority asc, name collate "C" asc')
      .select(...publicColumns);
  },

  async find(db: Knex, name: string): Promise<ActorTypeRecord | undefined> {
    return db<ActorTypeRecord>('actor_types').where({ name }).first();
  },

  /** Creates or fully replaces a type's policy in one statement; `created` tells which happened. */
  async upsert(db: Knex, name: string, policy: ActorTypePolicy, now: Date): Promise<{ row: ActorTypeRecord; created: boolean }> {
    const { rows } = await db.raw<{ rows: Array<ActorTypeRecord & { created: boolean }> }>(
      `insert into actor_types as t (name, description, allowed_methods, self_signup, require_2fa, access_token_ttl,
         session_duration, allow_impersonation, priority, created_at, updated_at)
       values (:name, :description, :allowed_methods, :self_signup, :require_2fa, :access_token_ttl,
         :session_duration, :allow_impersonation, :priority, :now, :now)
       on conflict (name) do update set
         description = excluded.description, allowed_methods = excluded.allowed_methods,
         self_signup = excluded.self_signup, require_2fa = excluded.require_2fa,
         access_token_ttl = excluded.access_token_ttl, session_duration = excluded.session_duration,
         allow_impersonation = excluded.allow_impersonation, priority = excluded.priority,
         updated_at = excluded.updated_at
       returning t.*, (xmax = 0) as created`,
      {
        name,
        description: policy.description ?? '',
        allowed_methods: policy.allowed_methods,
        self_signup: policy.self_signup,
        require_2fa: policy.require_2fa,
        access_token_ttl: policy.access_token_ttl,
        session_duration: policy.session_duration,
        allow_impersonation: policy.allow_impersonation,
        priority: policy.priority,
        now,
      },
    );
    const { created, ...row } = rows[0]!;
    return { row, created };
  },
};
