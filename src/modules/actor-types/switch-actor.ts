import type { Knex } from 'knex';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { parseAuthMethod } from '../../identity/auth-method.js';
import type { Sessions, TokenPair } from '../../identity/sessions/sessions.js';
import type { SignInPipeline } from '../../identity/sign-in.js';
import { identifierOf, usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sessionEnded } from '../../identity/sessions/session-errors.js';


export interface ActorSwitchDeps {
  db: Knex;
  clock: Clock;
  sessions: Sessions;
  signIn: SignInPipeline;
}

/**
 * Switch-actor (README "Actor types"): the current session ends and a new one acts as another type the user
 * holds, with the same sign-in method and factors and no later expiry. A switch never upgrades
 * the proof of identity: a method or a second factor the target needs and the session lacks
 * means signing in again.
 */
export class ActorSwitch {
  constructor(private readonly deps: ActorSwitchDeps) {}

  async switchTo(auth: { sub: string; sid: string }, target: string, context: RequestContext): Promise<TokenPair> {
    const { db, clock, sessions, signIn } = this.deps;
    const user = await usersRepo.findLiveById(db, auth.sub);
    if (!user) throw sessionEnded();
    const held = await actorTypesRepo.heldBy(db, user.id);
    const actorType = held.find((a) => a.name === target);
    if (!actorType) throw new AppError('actor_type_not_held', { detail: `This account does not hold the actor type '${target}'.` });
    const current = await sessions.findOwned(user.id, auth.sid);
    if (!current || current.revoked_at) throw sessionEnded();
    const method = parseAuthMethod(current.auth_method);
    actorPolicy.assertSwitchAllowed(actorType, held, { method, amr: current.amr });

    const { tokens } = await signIn.completeWithoutChallenge({
      user,
      method,
      amr: current.amr,
      actorType: actorType.name,
      held,
      rememberMe: true,
      device: { name: current.device_name ?? undefined, type: current.device_type ?? undefined },
      deviceId: current.device_id ?? undefined,
      deviceRef: current.device_ref ?? undefined,
      context,
      derivedFrom: {
        expiresAt: current.expires_at,
        // The old session ends in the transaction that opens the new one: two concurrent switches
        // of one session yield one new session, not two.
        within: async (trx) => {
          const revoked = await sessions.revoke({ sessionIds: [current.id] }, 'actor_switched', trx);
          if (!revoked.length) throw sessionEnded();
          await recordAudit(trx, clock, {
            event: 'actor.switched',
            userId: user.id,
            sessionId: current.id,
            identifier: identifierOf(user),
            context,
            details: { from: current.actor_type, to: actorType.name },
          });
        },
      },
    });
    return tokens;
  }
}
