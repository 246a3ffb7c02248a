import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../infra/clock.js';
import { hashOpaqueToken, newOpaqueToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { toEffectiveAccess } from '../access.js';
import { actorPolicy } from '../actor-policy.js';
import { actorTypesRepo, type ActorTypeRow } from '../actor-types.repo.js';
import { recordAudit } from '../audit-trail.js';
import { organizationsRepo } from '../organizations.repo.js';
import { identifierOf, usersRepo, type UserRow } from '../users.repo.js';
import type { AccessTokenIssuer, TokenPair } from './access-token-issuer.js';
import { runRefreshStatement, type RefreshGate, type RefreshInput, type RefreshRead } from './refresh-statement.js';
import { sessionsRepo, type RefreshRow, type RevocationTarget, type SessionRow, type StoredSession } from './sessions.repo.js';
import { assertNotSuspended, sessionEnded, sessionExpired } from './session-errors.js';

/** Who a session acts for, read again at each rotation of its refresh token. */
interface SessionHolder {
  user: UserRow;
  held: ActorTypeRow[];
  actorType: ActorTypeRow;
}

/** Where a refresh ends up: rotated, or a session to revoke. */
type Settled = Extract<RefreshRead, { outcome: 'reused' | 'rotated' }> | { outcome: 'method_withdrawn'; session: StoredSession; user: UserRow };

/**
 * The policy's verdict on a refresh, from its gate alone (so it can be remembered by the gate):
 * a suspended account is refused, a session whose actor type is no longer held has ended, one
 * whose sign-in method was withdrawn from its actor type is to be revoked.
 */
function verdictOn(gate: RefreshGate): 'go' | 'method_withdrawn' {
  assertNotSuspended(gate);
  if (!gate.actor_type) throw sessionEnded();
  return actorPolicy.sessionStillAllowed(gate.actor_type, gate.method) ? 'go' : 'method_withdrawn';
}

/** How many gates a process remembers (actor types, methods and statuses in use; each policy edit adds some). */
const rememberedGates = 256;

/** The keys of the gates the policy let through, oldest first, as the refresh statement takes them. */
class ApprovedGates {
  private readonly set = new Set<string>();
  private list: string[] = [];

  keys(): string[] {
    return this.list;
  }

  add(key: string): void {
    if (this.set.size >= rememberedGates) this.set.delete(this.set.values().next().value!);
    this.set.add(key);
    this.list = [...this.set];
  }
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
  private readonly gates = new ApprovedGates();

  constructor(private readonly deps: SessionRotationDeps) {}

  /**
   * Rotates a refresh token. The family's current token rotates normally; its immediate
   * predecessor, within the grace window, gets a fresh pair that supersedes the current one;
   * anything else is reuse and revokes the whole session. Refreshes of one family serialise on
   * the session's row, so the family never forks. One statement (runRefreshStatement) does it
   * all when the policy's verdict on its gate is known; reuse and a withdrawn method take a
   * transaction that revokes, audits (with `context`) and publishes.
   */
  async refresh(refreshToken: string, context: RequestContext = {}): Promise<TokenPair> {
    // The signing key is loaded first: a failure to sign after the rotation committed would lose the pair.
    await this.deps.issuer.ready();
    const next = newOpaqueToken();
    const input = {
      presentedHash: hashOpaqueToken(refreshToken),
      nextHash: next.hash,
      now: this.deps.clock.now(),
      graceSeconds: this.deps.refreshGraceSeconds,
      ip: context.ip?.slice(0, 64) || null,
    };
    let settled = await this.settle(this.deps.db, input);
    if (settled.outcome !== 'rotated') {
      // Decided again with the session locked until the revocation commits (then it is published).
      settled = await this.deps.sessions.transaction(async (trx) => {
        const again = await this.settle(trx, input);
        if (again.outcome !== 'rotated') await this.revokeFor(trx, again, context);
        return again;
      });
    }
    if (settled.outcome === 'method_withdrawn') {
      throw new AppError('session_revoked', { detail: 'The session has ended: its sign-in method is no longer allowed for its actor type.' });
    }
    if (settled.outcome === 'reused') {
      this.deps.logger.warn({ sessionId: settled.session.id }, 'refresh token reuse: session revoked');
      throw new AppError('refresh_token_reused', { detail: 'This refresh token was already used; the session has been revoked.' });
    }
    const { session, user, held, gate, grants, membership } = settled;
    const access = await this.deps.issuer.sign(session, user, gate.actor_type!, held, toEffectiveAccess(grants), membership);
    return { ...access, refresh_token: next.token };
  }

  /**
   * Runs the refresh statement until it rotates, finds reuse or refuses. A gate the policy has
   * not judged yet is judged here, and remembered when it lets refreshes through (the statement
   * is then run again: a refused one has written nothing).
   */
  private async settle(db: Knex, input: Omit<RefreshInput, 'approved'>): Promise<Settled> {
    for (let round = 0; round < 4; round++) {
      const read = await runRefreshStatement(db, { ...input, approved: this.gates.keys() });
      switch (read.outcome) {
        case 'invalid':
          throw new AppError('invalid_refresh_token', { detail: 'The refresh token is not valid.' });
        case 'ended':
          throw sessionEnded();
        case 'expired':
          throw sessionExpired();
        case 'reused':
        case 'rotated':
          return read;
        case 'decide':
          if (verdictOn(read.gate) === 'method_withdrawn') return { outcome: 'method_withdrawn', session: read.session, user: read.user };
          this.gates.add(read.gateKey);
      }
    }
    throw new Error('the refresh gate kept changing while it was judged');
  }

  /** Ends a session whose refresh found reuse or a withdrawn method, with its audit row, in `trx` (locked). */
  private async revokeFor(trx: Knex.Transaction, settled: Exclude<Settled, { outcome: 'rotated' }>, context: RequestContext): Promise<void> {
    const { session } = settled;
    if (settled.outcome === 'reused') {
      await this.deps.sessions.revoke({ sessionIds: [session.id] }, 'refresh_token_reused', trx);
      await recordAudit(trx, this.deps.clock, {
        event: 'refresh_token.reused',
        userId: session.user_id,
        sessionId: session.id,
        identifier: await usersRepo.identifierOf(trx, session.user_id),
        context,
        details: { session_id: session.id },
      });
      return;
    }
    // An admin removed the session's sign-in method from its actor type: the session ends here.
    const reason = 'auth_method_not_allowed';
    await this.deps.sessions.revoke({ sessionIds: [session.id] }, reason, trx);
    await recordAudit(trx, this.deps.clock, { event: 'session.revoked', userId: settled.user.id, sessionId: session.id, identifier: identifierOf(settled.user), context, details: { reason } });
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
