import type { Knex } from 'knex';
import type { MfaChallenge } from '../../../sdk/src/types.gen.js';
import type { Amr, AuthMethod } from '../../identity/auth-method.js';
import type { PendingSignIn, SecondFactorGate } from '../../identity/sign-in.js';
import type { Clock } from '../../infra/clock.js';
import { hashOpaqueToken, newOpaqueToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import { backupCodesRepo } from './backup-codes.js';

export type ChallengePurpose = 'login' | 'setup';

/** A login paused for a second factor (`login`) or for enrolment (`setup`), with the login's context. */
export interface MfaChallengeRow {
  id: string;
  token_hash: string;
  user_id: string;
  purpose: ChallengePurpose;
  actor_type: string;
  /** How the first factor was proven: the session the challenge opens records it. */
  auth_method: AuthMethod;
  amr: Amr[];
  remember_me: boolean;
  device_id: string | null;
  device_name: string | null;
  device_type: string | null;
  /** The registered device of the paused sign-in. */
  device_ref: string | null;
  ip: string | null;
  user_agent: string | null;
  attempts: number;
  expires_at: Date;
  consumed_at: Date | null;
  created_at: Date;
}

const lifetimeSeconds: Record<ChallengePurpose, number> = { login: 300, setup: 600 };
/** The wrong code that reaches this count also ends the challenge. */
export const maxChallengeAttempts = 5;

/**
 * The second-factor step of the sign-in pipeline: a `login` challenge when the user has 2FA on,
 * a `setup` one when one of the user's actor types requires 2FA (whichever the session acts as)
 * and the user has none yet; none when the first factor is enough.
 */
export class MfaChallengeGate implements SecondFactorGate {
  constructor(private readonly deps: { db: Knex; clock: Clock }) {}

  async challenge(pending: PendingSignIn): Promise<MfaChallenge | undefined> {
    const { db, clock } = this.deps;
    if (pending.user.mfa_enabled_at) {
      const methods: MfaChallenge['mfa_methods'] = (await backupCodesRepo.hasUnused(db, pending.user.id)) ? ['totp', 'backup_code'] : ['totp'];
      return answer(await createChallenge(db, clock, 'login', pending), 'login', methods);
    }
    if (pending.secondFactorRequired) return answer(await createChallenge(db, clock, 'setup', pending), 'setup', ['totp']);
    return undefined;
  }
}

function answer(token: string, purpose: ChallengePurpose, methods: MfaChallenge['mfa_methods']): MfaChallenge {
  return { mfa_required: true, mfa_setup_required: purpose === 'setup', mfa_token: token, mfa_methods: methods, expires_in: lifetimeSeconds[purpose] };
}

async function createChallenge(db: Knex, clock: Clock, purpose: ChallengePurpose, login: PendingSignIn): Promise<string> {
  const now = clock.now();
  const { token, hash } = newOpaqueToken();
  await db('mfa_challenges').insert({
    token_hash: hash,
    user_id: login.user.id,
    purpose,
    actor_type: login.actorType.name,
    auth_method: login.method,
    amr: login.amr,
    remember_me: login.rememberMe,
    device_name: login.device?.name ?? null,
    device_type: login.device?.type ?? null,
    device_id: login.deviceId ?? null,
    device_ref: login.deviceRef ?? null,
    ip: login.context.ip?.slice(0, 64) ?? null,
    user_agent: login.context.userAgent?.slice(0, 512) ?? null,
    attempts: 0,
    expires_at: new Date(now.getTime() + lifetimeSeconds[purpose] * 1000),
    created_at: now,
  });
  return token;
}

/** Why a challenge cannot be answered, or undefined when it still can. */
function refusal(row: MfaChallengeRow | undefined, purpose: ChallengePurpose, now: Date): AppError | undefined {
  if (!row || row.purpose !== purpose) return new AppError('mfa_token_invalid', { detail: 'The MFA token is not valid; log in again.' });
  if (row.attempts >= maxChallengeAttempts) return new AppError('mfa_attempts_exceeded', { detail: 'Too many wrong codes; log in again.' });
  if (row.consumed_at) return new AppError('mfa_token_invalid', { detail: 'The MFA token has already been used; log in again.' });
  if (row.expires_at <= now) return new AppError('mfa_token_invalid', { detail: 'The MFA token has expired; log in again.' });
  return undefined;
}

/** The `mfa_challenges` table. Every state change is one conditional update, safe under races. */
export const mfaChallenges = {
  /** The challenge of a token, still answerable; throws 401 mfa_token_invalid / mfa_attempts_exceeded. */
  async open(db: Knex, token: string, purpose: ChallengePurpose, now: Date): Promise<MfaChallengeRow> {
    const row = await db<MfaChallengeRow>('mfa_challenges').where({ token_hash: hashOpaqueToken(token) }).first();
    const refused = refusal(row, purpose, now);
    if (refused) throw refused;
    return row!;
  },

  /** A live `setup` challenge by its token (the restricted bearer token), or undefined. */
  async findLiveSetup(db: Knex, token: string, now: Date): Promise<MfaChallengeRow | undefined> {
    const row = await db<MfaChallengeRow>('mfa_challenges').where({ token_hash: hashOpaqueToken(token), purpose: 'setup' }).first();
    return refusal(row, 'setup', now) ? undefined : row;
  },

  /** Ends the challenge after a right code; undefined when another request ended it first. */
  async consume(db: Knex, id: string, now: Date): Promise<MfaChallengeRow | undefined> {
    const [row] = await db<MfaChallengeRow>('mfa_challenges')
      .where({ id })
      .whereNull('consumed_at')
      .andWhere('expires_at', '>', now)
      .andWhere('attempts', '<', maxChallengeAttempts)
      .update({ consumed_at: now })
      .returning('*');
    return row as MfaChallengeRow | undefined;
  },

  /**
   * Counts a wrong code; the one that reaches the cap also ends the challenge. Returns the
   * error to answer: invalid_mfa_code, or mfa_attempts_exceeded once the challenge is dead.
   */
  async recordFailure(db: Knex, id: string, now: Date): Promise<AppError> {
    const [row] = await db('mfa_challenges')
      .where({ id })
      .whereNull('consumed_at')
      .andWhere('expires_at', '>', now)
      .andWhere('attempts', '<', maxChallengeAttempts)
      .update({
        attempts: db.raw('attempts + 1'),
        consumed_at: db.raw('case when attempts + 1 >= ? then ?::timestamptz else null end', [maxChallengeAttempts, now]),
      })
      .returning('attempts');
    if (!row) {
      const current = await db<MfaChallengeRow>('mfa_challenges').where({ id }).first();
      const refused = current && refusal(current, current.purpose, now);
      if (refused) return refused;
    }
    if (row && row.attempts >= maxChallengeAttempts) return new AppError('mfa_attempts_exceeded', { detail: 'Too many wrong codes; log in again.' });
    return new AppError('invalid_mfa_code', { detail: 'The code is wrong.' });
  },
};
