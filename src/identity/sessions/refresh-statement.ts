import type { Knex } from 'knex';
import { grantRowsQuery, type GrantRow } from '../access.js';
import type { ActorTypeRow } from '../actor-types.repo.js';
import type { AuthMethod } from '../auth-method.js';
import { organizationsRepo, type LiveMembership } from '../organizations.repo.js';
import type { UserRow, UserStatus } from '../users.repo.js';
import type { StoredSession } from './sessions.repo.js';

/** What a refresh's go-ahead depends on, and nothing else, so a decision can be remembered by it. */
export interface RefreshGate {
  /** The session's actor type, while the user holds it. */
  actor_type: ActorTypeRow | null;
  method: AuthMethod;
  status: UserStatus;
}

/** What the family decided (migration 20261201000700_lean_refresh), and what was read to decide it. */
export type RefreshRead =
  | { outcome: 'invalid' | 'ended' | 'expired' }
  | { outcome: 'reused'; session: StoredSession }
  | { outcome: 'decide'; session: StoredSession; user: UserRow; gate: RefreshGate; gateKey: string }
  | { outcome: 'rotated'; session: StoredSession; user: UserRow; held: ActorTypeRow[]; gate: RefreshGate; grants: GrantRow[]; membership: LiveMembership | undefined };

export interface RefreshInput {
  presentedHash: string;
  nextHash: string;
  now: Date;
  graceSeconds: number;
  /** The client's address, for the device's last sighting (null: keep the one it has). */
  ip: string | null;
  /** The keys of the gates JS let through: only those rotate. */
  approved: string[];
}

interface Row {
  outcome: RefreshRead['outcome'];
  session_row: Record<string, unknown> | null;
  user_row: Record<string, unknown> | null;
  held_types: ActorTypeRow[] | null;
  gate: RefreshGate | null;
  gate_key: string | null;
  grants: Array<Record<string, unknown>> | null;
  membership: LiveMembership | null;
}

const sessionDates = ['created_at', 'last_active_at', 'expires_at', 'revoked_at'];
const userDates = ['email_verified_at', 'terms_accepted_at', 'phone_verified_at', 'password_changed_at', 'mfa_enabled_at', 'created_at', 'updated_at', 'deleted_at'];

/** JSON carries timestamps as strings: the rows the repositories would have read carry Dates. */
function withDates<T>(row: Record<string, unknown>, keys: string[]): T {
  const out: Record<string, unknown> = { ...row };
  for (const key of keys) if (typeof out[key] === 'string') out[key] = new Date(out[key] as string);
  return out as T;
}

/**
 * One statement: `sesame_refresh` (which locks, decides and rotates), then, once it rotated, the
 * grants and the live membership the new access token carries (the repositories' own queries,
 * read as of the statement's start: a refresh that waited for the lock reads them as a read just
 * before the wait would). In autocommit the session's lock lasts this statement; inside a
 * transaction, until it ends.
 */
export async function runRefreshStatement(db: Knex, input: RefreshInput): Promise<RefreshRead> {
  const grants = grantRowsQuery(db, db.raw('refresh.owner_id'), input.now);
  const membership = organizationsRepo.liveMembershipQuery(db, db.raw('refresh.membership_id'));
  const result: { rows: Row[] } = await db.raw(
    `select refresh.*,
       case when refresh.outcome = 'rotated' then (select coalesce(json_agg(g), '[]'::json) from ? g) end as grants,
       case when refresh.outcome = 'rotated' and refresh.membership_id is not null then (select row_to_json(lm) from ? lm) end as membership
     from sesame_refresh(?, ?, ?, ?, ?, ?::text[]) refresh`,
    [grants, membership, input.presentedHash, input.nextHash, input.now, input.graceSeconds, input.ip, input.approved],
  );
  const row = result.rows[0]!;
  if (row.outcome === 'invalid' || row.outcome === 'ended' || row.outcome === 'expired') return { outcome: row.outcome };
  const session = withDates<StoredSession>(row.session_row!, sessionDates);
  if (row.outcome === 'reused') return { outcome: 'reused', session };
  const user = withDates<UserRow>(row.user_row!, userDates);
  if (row.outcome === 'decide') return { outcome: 'decide', session, user, gate: row.gate!, gateKey: row.gate_key! };
  return {
    outcome: 'rotated',
    session,
    user,
    held: row.held_types!,
    gate: row.gate!,
    grants: row.grants!.map((g) => withDates<GrantRow>(g, ['expires_at'])),
    membership: row.membership ?? undefined,
  };
}
