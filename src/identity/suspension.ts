import type { Knex } from 'knex';
import type { Sessions } from './sessions/sessions.js';

/**
 * What ends with an account's suspension (README "Administration"), run in the transaction that
 * suspends it, so every instance refuses the user's credentials from the commit on. The
 * composition root lists them: the sessions, and every other kind of credential a feature adds
 * (API keys).
 */
export interface SuspensionHook {
  /** What it ends, as the audit row's `details.revoked` names it (`sessions`, `api_keys`). */
  readonly name: string;
  /** Ends the user's credentials of this kind; returns how many it ended. */
  suspended(trx: Knex.Transaction, userId: string): Promise<number>;
}

/** Every session of the user ends (and the impersonations opened from them). */
export function sessionsEndOnSuspension(sessions: Pick<Sessions, 'revoke'>): SuspensionHook {
  return {
    name: 'sessions',
    suspended: async (trx, userId) => (await sessions.revoke({ userId }, 'user_suspended', trx)).length,
  };
}
