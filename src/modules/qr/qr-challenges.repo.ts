import type { Knex } from 'knex';

export type QrStatus = 'pending' | 'approved' | 'refused' | 'consumed';

/** A row of `qr_challenges`: a new device asking to be signed in by a signed-in one. */
export interface QrChallengeRow {
  id: string;
  challenge_hash: string;
  poll_token_hash: string;
  status: QrStatus;
  device_name: string | null;
  device_type: string | null;
  public_key: string | null;
  push_token: string | null;
  remember_me: boolean;
  ip: string | null;
  user_agent: string | null;
  created_at: Date;
  expires_at: Date;
  /** The one session that may decide the challenge: the first to inspect it. */
  inspected_by_session: string | null;
  approver_user_id: string | null;
  approver_session_id: string | null;
  approver_actor_type: string | null;
  decided_at: Date | null;
  last_polled_at: Date | null;
  consumed_at: Date | null;
}

export type NewQrChallenge = Pick<
  QrChallengeRow,
  'challenge_hash' | 'poll_token_hash' | 'device_name' | 'device_type' | 'public_key' | 'push_token' | 'remember_me' | 'ip' | 'user_agent' | 'created_at' | 'expires_at'
>;

export interface Approval {
  userId: string;
  sessionId: string;
  actorType: string;
}

/**
 * `qr_challenges`. Each transition is one conditional UPDATE … RETURNING: PostgreSQL re-checks
 * the condition on the row a concurrent update left, so of any number of racing requests exactly
 * one makes a given transition (one inspector claims, one decision lands, one poll takes).
 */
export const qrChallengesRepo = {
  async insert(db: Knex, row: NewQrChallenge): Promise<string> {
    const [inserted] = await db('qr_challenges').insert({ ...row, status: 'pending' }).returning('id');
    return (inserted as { id: string }).id;
  },

  async findByChallenge(db: Knex, challengeHash: string): Promise<QrChallengeRow | undefined> {
    return db<QrChallengeRow>('qr_challenges').where({ challenge_hash: challengeHash }).first();
  },

  async findByPollToken(db: Knex, pollTokenHash: string): Promise<QrChallengeRow | undefined> {
    return db<QrChallengeRow>('qr_challenges').where({ poll_token_hash: pollTokenHash }).first();
  },

  /** The session becomes the challenge's only decider, if no other claimed it first. */
  async claimInspection(db: Knex, id: string, sessionId: string, now: Date): Promise<QrChallengeRow | undefined> {
    const [row] = await db<QrChallengeRow>('qr_challenges')
      .where({ id, status: 'pending' })
      .andWhere('expires_at', '>', now)
      .andWhere((q) => q.whereNull('inspected_by_session').orWhere({ inspected_by_session: sessionId }))
      .update({ inspected_by_session: sessionId })
      .returning('*');
    return row as QrChallengeRow | undefined;
  },

  /** The inspecting session's decision, if the challenge is still pending and live. */
  async decide(trx: Knex, id: string, decision: 'approved' | 'refused', approver: Approval, now: Date): Promise<QrChallengeRow | undefined> {
    const [row] = await trx<QrChallengeRow>('qr_challenges')
      .where({ id, status: 'pending', inspected_by_session: approver.sessionId })
      .andWhere('expires_at', '>', now)
      .update({ status: decision, approver_user_id: approver.userId, approver_session_id: approver.sessionId, approver_actor_type: approver.actorType, decided_at: now })
      .returning('*');
    return row as QrChallengeRow | undefined;
  },

  /** The atomic take: the one poll that turns an approved, live challenge into a consumed one. */
  async take(db: Knex, id: string, now: Date): Promise<QrChallengeRow | undefined> {
    const [row] = await db<QrChallengeRow>('qr_challenges')
      .where({ id, status: 'approved' })
      .andWhere('expires_at', '>', now)
      .update({ status: 'consumed', consumed_at: now, last_polled_at: now })
      .returning('*');
    return row as QrChallengeRow | undefined;
  },

  /** Records a poll, unless the previous one was less than `intervalMs` ago (then undefined: slow down). */
  async pace(db: Knex, id: string, now: Date, intervalMs: number): Promise<QrChallengeRow | undefined> {
    const [row] = await db<QrChallengeRow>('qr_challenges')
      .where({ id })
      .andWhere((q) => q.whereNull('last_polled_at').orWhere('last_polled_at', '<=', new Date(now.getTime() - intervalMs)))
      .update({ last_polled_at: now })
      .returning('*');
    return row as QrChallengeRow | undefined;
  },
};
