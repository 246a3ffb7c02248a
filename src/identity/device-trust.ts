import type { Knex } from 'knex';
import type { Clock } from '../infra/clock.js';
import { hashOpaqueToken, newOpaqueToken } from '../infra/tokens.js';
import { normalizeEmail } from './users.repo.js';

/** How long a device stays trusted after the password sign-in that made it so. */
export const deviceTrustDays = 90;

/**
 * `trusted_devices`: devices that completed a password sign-in of an account (OWASP's device
 * cookie, as a token the client keeps). A trusted device may reach the password check while the
 * account is locked for everyone else; its own failures are counted apart (see the password
 * sign-in), so a stolen token is no way around the lockout.
 */
export const deviceTrust = {
  /**
   * A new trust token for the user's device (the token itself is never stored), with the write
   * that stores its hash: a builder, not run, for the statement that opens the session.
   */
  issue(db: Knex, clock: Clock, userId: string): { token: string; write: Knex.QueryBuilder } {
    const { token, hash } = newOpaqueToken();
    const now = clock.now();
    return { token, write: db('trusted_devices').insert({ token_hash: hash, user_id: userId, created_at: now, expires_at: new Date(now.getTime() + deviceTrustDays * 86_400_000) }) };
  },

  /** The counter identifier of a token still valid for the live account of `email`, or undefined. */
  async trustedFor(db: Knex, clock: Clock, token: string, email: string): Promise<string | undefined> {
    const hash = hashOpaqueToken(token);
    const row = await db('trusted_devices as d')
      .join('users as u', 'u.id', 'd.user_id')
      .where({ 'd.token_hash': hash, 'u.email': normalizeEmail(email) })
      .whereNull('u.deleted_at')
      .andWhere('d.expires_at', '>', clock.now())
      .first('d.token_hash');
    return row ? `device:${hash}` : undefined;
  },

  /** Every device of the user stops being trusted (a password change or reset). */
  async revokeAll(db: Knex, userId: string): Promise<void> {
    await db('trusted_devices').where({ user_id: userId }).delete();
  },
};
