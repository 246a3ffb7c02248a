import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../infra/clock.js';
import { hashOpaqueToken, newOpaqueToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { actorPolicy } from '../actor-policy.js';
import { actorTypesRepo, type ActorTypeRow } from '../actor-types.repo.js';
import { recordAudit } from '../audit-trail.js';
import { devicesRepo } from '../devices.repo.js';
import { organizationsRepo } from '../organizations.repo.js';
import { identifierOf, usersRepo, type UserRow } from '../users.repo.js';
import type { AccessTokenIssuer, TokenPair } from './access-token-issuer.js';
import { sessionsRepo, type RefreshRow, type RevocationTarget, type SessionRow } from './sessions.repo.js';
import { assertNotSuspended, sessionEnded, sessionExpired } from './session-errors.js';

/** Who a session acts for, read again at each rotation of its refresh token. */
interface SessionHolder {
  user: UserRow;
  held: ActorTypeRow[];
  actorType: ActorTypeRow;
}


/** The part of Sessions a rotation needs: its publishing transactions and revocation. */
export interface SessionRevocations {
  transaction<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T>;
  revoke(target: RevocationTarget, reason: string, trx?: Knex.Transaction): Promise<string[]>;
}

export interface SessionRotationDeps {
  db: Knex;
  clock: Clock;
  logger: Logger;
  issuer: AccessTokenIssuer;
  /** Revocations go through the sessions' transactions, so they are published once committed (Sessions). */
  sessions: SessionRevocations;
  refreshGraceSeconds: number;
}

/**
 * A session's refresh-token family moves on: a refresh rotates it (reuse revokes the session),
 * and choosing the active organization rotates it too, so the new pair carries the organization.
 */
export class SessionRotation {
  constructor(private readonly deps: SessionRotationDeps) {}

  /**
   * Rotates a refresh token. The family's current token rotates normally; its immediate
   * predecessor, within the grace window, gets a fresh pair that supersedes the current one;
   * anything else is reuse and revokes the whole session. The session row is locked, so
   * concurrent refreshes are serialised and the family never forks. Reuse is audited with `context`.
   */
  async refresh(refreshToken: string, context: RequestContext = {}): Promise<TokenPair> {
    const presentedHash = hashOpaqueToken(refreshToken);
    const outcome = await this.deps.sessions.transaction(async (trx) => {
      const found = await sessionsRepo.findRefreshToken(trx, presentedHash);
      if (!found) throw new AppError('invalid_refresh_token', { detail: 'The refresh token is not valid.' });
      const session = await sessionsRepo.lock(trx, found.session_id);
      if (!session || session.revoked_at) throw sessionEnded();
      // Read the family only once the session is locked: a concurrent refresh may just have rotated it.
      const presented = (await sessionsRepo.findRefreshToken(trx, presentedHash))!;
      const now = this.deps.clock.now();
      if (session.expires_at <= now) throw sessionExpired();

      const current = await sessionsRepo.currentRefreshToken(trx, session.id);
      const isCurrent = current?.id === presented.id;
      const graceMs = this.deps.refreshGraceSeconds * 1000;
      const isGracefulRetry =
        current !== undefined &&
        presented.generation === current.generation - 1 &&
        presented.rotated_at !== null &&
        now.getTime() - presented.rotated_at.getTime() <= graceMs;
      if (!current || (!isCurrent && !isGracefulRetry)) {
        await this.deps.sessions.revoke({ sessionIds: [session.id] }, 'refresh_token_reused', trx);
        await recordAudit(trx, this.deps.clock, {
          event: 'refresh_token.reused',
          userId: session.user_id,
          sessionId: session.id,
          identifier: await usersRepo.identifierOf(trx, session.user_id),
          context,
          details: { session_id: session.id },
        });
        return { reused: true as const, sessionId: session.id };
      }

      const holder = await this.holderOf(trx, session);
      const { user, actorType } = holder;
      if (!actorPolicy.sessionStillAllowed(actorType, session.auth_method)) {
        // An admin removed the session's sign-in method from its actor type: the session ends here.
        const reason = 'auth_method_not_allowed';
        await this.deps.sessions.revoke({ sessionIds: [session.id] }, reason, trx);
        await recordAudit(trx, this.deps.clock, { event: 'session.revoked', userId: user.id, sessionId: session.id, identifier: identifierOf(user), context, details: { reason } });
        return { methodRevoked: true as const, sessionId: session.id };
      }

      if (session.device_ref) await devicesRepo.touch(trx, session.device_ref, context.ip?.slice(0, 64) ?? null, now);
      return { reused: false as const, tokens: await this.rotate(trx, session, current, holder, now) };
    });
    if (outcome.methodRevoked) {
      throw new AppError('session_revoked', { detail: 'The session has ended: its sign-in method is no longer allowed for its actor type.' });
    }
    if (outcome.reused) {
      this.deps.logger.warn({ sessionId: outcome.sessionId }, 'refresh token reuse: session revoked');
      throw new AppError('refresh_token_reused', { detail: 'This refresh token was already used; the session has been revoked.' });
    }
    return outcome.tokens;
  }

  /**
   * Makes `organizationId` (null: none) the session's active organization and rotates its
   * refresh token: the new pair carries `org_id` and `org_role`. The caller must be a member of
   * a live organization, else 404 `organization_not_found` (a member removed meanwhile included:
   * the session's reference to the membership would break its foreign key).
   */
  async setActiveOrganization(auth: { sub: string; sid: string }, organizationId: string | null, context: RequestContext): Promise<TokenPair> {
    const notFound = () => new AppError('organization_not_found', { detail: 'No such organization among yours.' });
    try {
      return await this.deps.db.transaction(async (trx) => {
        const session = await sessionsRepo.lock(trx, auth.sid);
        const now = this.deps.clock.now();
        if (!session || session.revoked_at || session.user_id !== auth.sub) throw sessionEnded();
        if (session.expires_at <= now) throw sessionExpired();
        const found = organizationId === null ? undefined : await organizationsRepo.findForMember(trx, organizationId, auth.sub);
        if (organizationId !== null && !found) throw notFound();
        const holder = await this.holderOf(trx, session);
        const membershipId = found?.membership.id ?? null;
        await sessionsRepo.setOrganization(trx, session.id, membershipId);
        const current = await sessionsRepo.currentRefreshToken(trx, session.id);
        if (!current) throw sessionEnded();
        const tokens = await this.rotate(trx, { ...session, org_membership_id: membershipId }, current, holder, now);
        await recordAudit(trx, this.deps.clock, {
          event: 'organization.switched',
          userId: auth.sub,
          sessionId: session.id,
          identifier: identifierOf(holder.user),
          context,
          details: { organization_id: organizationId, ...(found ? { role: found.membership.role } : {}) },
        });
        return tokens;
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23503') throw notFound();
      throw err;
    }
  }

  /** The session's user (live, not suspended) and acting actor type, read in `trx`. */
  private async holderOf(trx: Knex.Transaction, session: SessionRow): Promise<SessionHolder> {
    const user = await usersRepo.findLiveById(trx, session.user_id);
    if (!user) throw sessionEnded();
    assertNotSuspended(user);
    const held = await actorTypesRepo.heldBy(trx, user.id);
    const actorType = held.find((a) => a.name === session.actor_type);
    if (!actorType) throw sessionEnded();
    return { user, held, actorType };
  }

  /** Rotates the family's current token and signs a new access token, in `trx`. */
  private async rotate(trx: Knex.Transaction, session: SessionRow, current: RefreshRow, holder: SessionHolder, now: Date): Promise<TokenPair> {
    await sessionsRepo.markRotated(trx, current.id, now);
    const next = newOpaqueToken();
    await sessionsRepo.insertRefreshToken(trx, { session_id: session.id, token_hash: next.hash, generation: current.generation + 1, created_at: now });
    await sessionsRepo.touch(trx, session.id, now);
    const access = await this.deps.issuer.issue(trx, session, holder.user, holder.actorType, holder.held);
    return { ...access, refresh_token: next.token };
  }
}
