import type { Knex } from 'knex';
import type { ImpersonationSession } from '../../../sdk/src/types.gen.js';
import { effectiveAccess, holdsPermission } from '../../identity/access.js';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { firstFactorAmr } from '../../identity/auth-method.js';
import { requirePermission } from '../../identity/authorize.js';
import type { Sessions } from '../../identity/sessions/sessions.js';
import type { SignInPipeline } from '../../identity/sign-in.js';
import { toUserDto, usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { enqueueMessage } from '../../infra/messages/outbox.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { ActClaim, RequestContext } from '../../shared/request-context.js';
import { adminPermissions, isAdministrator, minuteOf } from './admin-permissions.js';
import { sessionEnded } from '../../identity/sessions/session-errors.js';

/** An impersonation session lasts at most this long (README "Administration"). */
export const impersonationMaxSeconds = 3600;

export interface ImpersonationsDeps {
  db: Knex;
  clock: Clock;
  sessions: Pick<Sessions, 'findOwned' | 'revoke' | 'transaction'>;
  signIn: SignInPipeline;
}

type Caller = Pick<VerifiedAccessToken, 'sub' | 'sid' | 'act'>;

const notAllowed = (detail: string) => new AppError('impersonation_not_allowed', { detail });

/** Everyone in an actor chain, latest first. */
function chainOf(act: ActClaim | undefined): string[] {
  return act ? [act.sub, ...chainOf(act.act)] : [];
}

/**
 * Impersonation (RFC 8693 `act`; README "Administration"): an administrator opens a session as
 * a user through the sign-in pipeline (method `impersonation`), from their own session, which
 * it never outlives; the user is emailed; `stop` ends it.
 */
export class Impersonations {
  constructor(private readonly deps: ImpersonationsDeps) {}

  async start(caller: Caller, userId: string, reason: string, context: RequestContext): Promise<ImpersonationSession> {
    const { db, clock, sessions, signIn } = this.deps;
    const access = await requirePermission(db, clock, caller.sub, adminPermissions.impersonateUsers);
    if ([caller.sub, ...chainOf(caller.act)].includes(userId)) throw notAllowed('Nobody impersonates themselves, nor anyone already in their impersonation chain.');
    const user = await usersRepo.findLiveById(db, userId);
    if (!user) throw new AppError('user_not_found', { detail: 'No such user.' });
    if (user.status !== 'active') throw notAllowed(`The account is ${user.status === 'suspended' ? 'suspended' : 'not verified yet'}.`);
    const held = await actorTypesRepo.heldBy(db, userId);
    if (!actorPolicy.impersonable(held)) throw notAllowed('An actor type this user holds does not allow impersonation.');
    const now = clock.now();
    if (isAdministrator(await effectiveAccess(db, userId, now), held) && !holdsPermission(access.permissions, adminPermissions.impersonateAdmins)) {
      throw new AppError('permission_denied', { detail: `This user is an administrator: impersonating them needs the ${adminPermissions.impersonateAdmins} permission.` });
    }
    const own = await sessions.findOwned(caller.sub, caller.sid);
    if (!own || own.revoked_at) throw sessionEnded();

    const act: ActClaim = caller.act ? { sub: caller.sub, act: caller.act } : { sub: caller.sub };
    const until = new Date(Math.min(now.getTime() + impersonationMaxSeconds * 1000, own.expires_at.getTime()));
    const result = await signIn.completeWithoutChallenge({
      user,
      method: 'impersonation',
      amr: firstFactorAmr('impersonation'),
      held,
      rememberMe: true,
      context,
      impersonation: { act, impersonatorSessionId: caller.sid, reason },
      derivedFrom: {
        expiresAt: until,
        within: async (trx) => {
          if (!user.email) return;
          await enqueueMessage(trx, clock, {
            channel: 'email',
            to: user.email,
            template: 'impersonation_started',
            language: user.language,
            params: { first_name: user.first_name ?? '', time: minuteOf(now), until: minuteOf(until), reason },
          });
        },
      },
    });
    const opened = await sessions.findOwned(userId, result.sessionId);
    return { ...result.tokens, user: toUserDto(result.user, held.map((a) => a.name)), act: act as ImpersonationSession['act'], expires_at: opened!.expires_at.toISOString() };
  }

  /** Ends the impersonation session of `token` (and those opened from it); nothing usable is returned. */
  async stop(token: Pick<VerifiedAccessToken, 'sub' | 'sid' | 'act'>, context: RequestContext): Promise<void> {
    const { db, clock, sessions } = this.deps;
    const act = token.act;
    if (!act) throw new AppError('not_impersonating', { detail: 'This session is no impersonation: log out instead.' });
    await sessions.transaction(async (trx) => {
      const ended = await sessions.revoke({ sessionIds: [token.sid] }, 'impersonation_stopped', trx);
      if (!ended.length) throw sessionEnded();
      await recordAudit(trx, clock, { event: 'impersonation.stopped', userId: token.sub, actorId: act.sub, sessionId: token.sid, identifier: await usersRepo.identifierOf(trx, token.sub), context, details: { act } });
    });
  }
}
