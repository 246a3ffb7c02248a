import type { Knex } from 'knex';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.js';
import type { ActClaim } from '../../shared/request-context.js';
import type { AuthMethod } from '../auth-method.js';

export interface SessionRow {
  id: string;
  user_id: string;
  actor_type: string;
  auth_method: AuthMethod;
  amr: string[];
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  /** The membership of the session's active organization (nulled when the member leaves). */
  org_membership_id?: string | null;
}

/** What a session remembers of the device it was opened from. */
export interface DeviceSeen {
  device_name: string | null;
  user_agent: string | null;
  ip: string | null;
}

/** A session with everything its list entry and derived sessions (switch-actor) read. */
export interface StoredSession extends SessionRow, DeviceSeen {
  device_type: string | null;
  /** The app's own device identifier (guests). */
  device_id: string | null;
  /** The registered device (`devices`) the session was opened from. */
  device_ref: string | null;
  last_active_at: Date;
  /** An impersonation (README "Administration"): the actor chain its tokens carry, the administrator and their session. */
  act: ActClaim | null;
  impersonator_id: string | null;
  impersonator_session_id: string | null;
}

export interface RefreshRow {
  id: string;
  session_id: string;
  token_hash: string;
  generation: number;
  rotated_at: Date | null;
}

/** Which sessions to revoke: some by id, every live one of a user (but one), or those of a device. */
export type RevocationTarget = { sessionIds: string[] } | { userId: string; exceptSessionId?: string; actorTypes?: string[] } | { deviceRef: string };

/** Why an impersonation ended without being stopped: the administrator's session ended. */
export const impersonatorSessionEnded = 'impersonator_session_ended';

/** What the live-session check reads: the session and its user's state. */
export interface SessionLiveness {
  revoked_at: Date | null;
  expires_at: Date;
  user_id: string;
  status: string;
  deleted_at: Date | null;
  /** The active organization while the membership lasts and the organization is live, else null. */
  org_id: string | null;
  org_role: string | null;
}

/** `sessions` and `refresh_tokens` (a session's refresh-token family). */
export const sessionsRepo = {
  async insertRefreshToken(trx: Knex.Transaction, row: { session_id: string; token_hash: string; generation: number; created_at: Date }): Promise<void> {
    await trx('refresh_tokens').insert(row);
  },

  /** The family's newest token. */
  async currentRefreshToken(trx: Knex, sessionId: string): Promise<RefreshRow | undefined> {
    return trx<RefreshRow>('refresh_tokens').where({ session_id: sessionId }).orderBy('generation', 'desc').first();
  },

  async markRotated(trx: Knex, refreshId: string, now: Date): Promise<void> {
    await trx('refresh_tokens').where({ id: refreshId }).whereNull('rotated_at').update({ rotated_at: now });
  },

  /** The session, locked until the transaction ends (refreshes of one family serialise on it). */
  async lock(trx: Knex.Transaction, id: string): Promise<StoredSession | undefined> {
    return trx<StoredSession>('sessions').where({ id }).forUpdate().first();
  },

  async find(db: Knex, id: string): Promise<StoredSession | undefined> {
    return db<StoredSession>('sessions').where({ id }).first();
  },

  /** The user's session if it is live at `now`, locked. */
  async lockLive(trx: Knex.Transaction, id: string, userId: string, now: Date): Promise<{ id: string } | undefined> {
    return trx('sessions').where({ id, user_id: userId }).whereNull('revoked_at').where('expires_at', '>', now).forUpdate().first('id');
  },

  async touch(trx: Knex, id: string, now: Date): Promise<void> {
    await trx('sessions').where({ id }).update({ last_active_at: now });
  },

  /**
   * Revokes the live sessions of `target` (`revoked`), and the impersonations opened from them,
   * down the chain (`ended`).
   */
  async revoke(db: Knex, target: RevocationTarget, reason: string, now: Date): Promise<{ revoked: string[]; ended: string[] }> {
    const query = db('sessions').whereNull('revoked_at');
    if ('userId' in target) {
      query.where({ user_id: target.userId });
      if (target.exceptSessionId) query.whereNot({ id: target.exceptSessionId });
      if (target.actorTypes) query.whereIn('actor_type', target.actorTypes);
    } else if ('deviceRef' in target) query.where({ device_ref: target.deviceRef });
    else query.whereIn('id', target.sessionIds);
    const rows: Array<{ id: string }> = await query.update({ revoked_at: now, revoked_reason: reason }).returning('id');
    const revoked = rows.map((r) => r.id);
    const ended: string[] = [];
    for (let parents = revoked; parents.length; ) {
      const children: Array<{ id: string }> = await db('sessions')
        .whereIn('impersonator_session_id', parents)
        .whereNull('revoked_at')
        .update({ revoked_at: now, revoked_reason: impersonatorSessionEnded })
        .returning('id');
      parents = children.map((r) => r.id);
      ended.push(...parents);
    }
    return { revoked, ended };
  },

  /** How many live sessions the user has. */
  async liveCount(db: Knex, userId: string, now: Date): Promise<number> {
    const row = await db('sessions').where({ user_id: userId }).whereNull('revoked_at').where('expires_at', '>', now).count<{ count: string }[]>('* as count').first();
    return Number(row?.count ?? 0);
  },

  async liveness(db: Knex, id: string): Promise<SessionLiveness | undefined> {
    return db('sessions')
      .join('users', 'users.id', 'sessions.user_id')
      .leftJoin('organization_members as m', 'm.id', 'sessions.org_membership_id')
      .leftJoin('organizations as o', (on) => on.on('o.id', 'm.organization_id').andOnNull('o.deleted_at'))
      .where('sessions.id', id)
      .first('sessions.revoked_at', 'sessions.expires_at', 'sessions.user_id', 'users.status', 'users.deleted_at', 'o.id as org_id', 'm.role as org_role');
  },

  /** Makes a membership (or none) the session's active organization. */
  async setOrganization(trx: Knex.Transaction, id: string, membershipId: string | null): Promise<void> {
    await trx('sessions').where({ id }).update({ org_membership_id: membershipId });
  },

  /** The user's live sessions, newest first, a page at a time. */
  async listLive(db: Knex, userId: string, now: Date, page: PageRequest): Promise<Page<StoredSession>> {
    const query = db('sessions').select('*').where({ user_id: userId }).whereNull('revoked_at').where('expires_at', '>', now);
    return keysetPage<StoredSession>(db, query, page);
  },

  /**
   * How many sessions the user had (`earlier`), and how many from this user agent and device
   * name (`same`): a builder, for the statement that opens a session (open-statement.ts).
   */
  deviceHistoryQuery(db: Knex, userId: string, seen: DeviceSeen): Knex.QueryBuilder {
    return db('sessions')
      .where({ user_id: userId })
      .select(
        db.raw('count(*)::int as earlier'),
        db.raw('(count(*) filter (where user_agent is not distinct from ? and device_name is not distinct from ?))::int as same', [seen.user_agent, seen.device_name]),
      );
  },

  /** Live sessions per actor type, for the `auth_active_sessions{role}` gauge. */
  async liveCountsByActorType(db: Knex, now: Date): Promise<Array<{ role: string; count: number }>> {
    const rows: Array<{ role: string; count: string }> = await db('sessions')
      .whereNull('revoked_at')
      .andWhere('expires_at', '>', now)
      .groupBy('actor_type')
      .select('actor_type as role', db.raw('count(*) as count'));
    return rows.map((r) => ({ role: r.role, count: Number(r.count) }));
  },
};
