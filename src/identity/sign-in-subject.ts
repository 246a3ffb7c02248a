import type { Knex } from 'knex';
import { grantRowsQuery, toEffectiveAccess, type EffectiveAccess, type GrantRow } from './access.js';
import type { ActorTypeRow } from './actor-types.repo.js';
import { normalizeEmail, type UserRow } from './users.repo.js';

/** The live account of an email, with what its sign-in needs: the actor types it holds and its access. */
export interface SignInSubject {
  user: UserRow | undefined;
  /** Strictest first (as actorTypesRepo.heldBy). */
  held: ActorTypeRow[];
  access: EffectiveAccess;
}

type Json<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] };
type ActorTypeJson = Json<ActorTypeRow & { created_at: Date; updated_at: Date }>;

/**
 * Reads, in one statement, the live user of `email` with its actor types and its grants (as of
 * `now`), beside the one row `alongside` returns (a data-modifying CTE, e.g. the lockout's
 * attempt reservation; it comes back as JSON): a sign-in counts its attempt and reads its
 * account in one round trip, and an unknown email costs the very same statement.
 */
export async function readSignInSubject(db: Knex, email: string, now: Date, alongside: Knex.Raw): Promise<{ alongside: Record<string, unknown>; subject: SignInSubject }> {
  const held = db('actor_types as t')
    .join('user_actor_types as h', 'h.actor_type', 't.name')
    .where('h.user_id', db.ref('u.id'))
    .select(db.raw(`coalesce(json_agg(t order by t.priority desc, t.name), '[]'::json)`));
  const grants = db.from(grantRowsQuery(db, db.ref('u.id'), now).as('g')).select(db.raw(`coalesce(json_agg(g), '[]'::json)`));
  const user = db('users').where({ email: normalizeEmail(email) }).whereNull('deleted_at').limit(1).select('*');
  const { rows } = await db.raw<{ rows: Array<Record<string, unknown>> }>(
    `with alongside as (?)
     select (select row_to_json(a) from alongside a) as alongside_row, ? as held_json, ? as grants_json, u.*
     from (select 1) as one left join lateral ? as u on true`,
    [alongside, held, grants, user],
  );
  const { alongside_row, held_json, grants_json, ...userColumns } = rows[0]!;
  const date = (value: string | null) => (value === null ? null : new Date(value));
  return {
    alongside: alongside_row as Record<string, unknown>,
    subject: {
      user: userColumns.id === null ? undefined : (userColumns as unknown as UserRow),
      held: (held_json as ActorTypeJson[]).map((t) => ({ ...t, created_at: date(t.created_at)!, updated_at: date(t.updated_at)! })),
      access: toEffectiveAccess((grants_json as Array<Json<GrantRow>>).map((g) => ({ ...g, expires_at: date(g.expires_at) }))),
    },
  };
}
