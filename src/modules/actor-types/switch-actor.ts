import type { Knex } from 'knex';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import { recordAudit, type RequestContext } from '../audit/audit.js';
import type { Sessions, SessionRow, TokenPair } from '../sessions/sessions.service.js';
import { usersRepo } from '../users/users.repo.js';

type CurrentSession = SessionRow & { device_id: string | null; device_name: string | null; device_type: string | null };

const sessionEnded = () => new AppError('session_revoked', { detail: 'The session has ended.' });

/**
 * Switch-actor (SPEC §4.9): the current session ends and a new one acts as another type the user
 * holds, with the same sign-in method and factors and no later expiry. A switch never upgrades
 * the proof of identity: a method or a second factor the target needs and the session lacks
 * means signing in again.
 */
export class ActorSwitch {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    private readonly sessions: Sessions,
  ) {}

  async switchTo(auth: { sub: string; sid: string }, target: string, context: RequestContext): Promise<TokenPair> {
    const user = await usersRepo.findLiveById(this.db, auth.sub);
    if (!user) throw sessionEnded();
    const held = await usersRepo.actorTypesOf(this.db, user.id);
    const actorType = held.find((a) => a.name === target);
    if (!actorType) throw new AppError('actor_type_not_held', { detail: `This account does not hold the actor type '${target}'.` });
    const current: CurrentSession | undefined = await this.db('sessions').where({ id: auth.sid, user_id: user.id }).first();
    if (!current || current.revoked_at) throw sessionEnded();
    if (!actorType.allowed_methods.includes(current.auth_method)) {
      throw new AppError('reauth_required', { detail: `Acting as '${target}' needs another sign-in method: log in again as '${target}'.` });
    }
    // The strictest held type governs the 2FA rule, as at login.
    if ((actorType.require_2fa || held.some((a) => a.require_2fa)) && !current.amr.includes('otp')) {
      throw new AppError('reauth_required', { detail: `Acting as '${target}' needs a second factor: log in again as '${target}'.` });
    }

    const revoked = await this.db.transaction(async (trx) => {
      // The row lock makes two concurrent switches of one session yield one new session, not two.
      const locked = await trx('sessions').where({ id: current.id }).whereNull('revoked_at').forUpdate().first('id');
      if (!locked) throw sessionEnded();
      const ids = await this.sessions.revoke({ sessionIds: [current.id] }, 'actor_switched', trx);
      await recordAudit(trx, this.clock, {
        event: 'actor.switched',
        userId: user.id,
        sessionId: current.id,
        identifier: user.email,
        context,
        details: { from: current.actor_type, to: actorType.name },
      });
      return ids;
    });
    await this.sessions.markRevoked(revoked);

    const { tokens } = await this.sessions.open({
      user,
      actorType,
      authMethod: current.auth_method,
      amr: current.amr,
      rememberMe: true,
      notifyNewDevice: false,
      device: { name: current.device_name ?? undefined, type: current.device_type ?? undefined },
      deviceId: current.device_id ?? undefined,
      ip: context.ip,
      userAgent: context.userAgent,
      expiresNoLaterThan: current.expires_at,
    });
    return tokens;
  }
}
