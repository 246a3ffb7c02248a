import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../infra/clock.js';
import type { FastStore } from '../../infra/store/store.js';
import { outboxRow } from '../../infra/messages/outbox.js';
import { newOpaqueToken, type AccessTokens, type VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { PageRequest, Page } from '../../shared/pagination.js';
import type { ActClaim, RequestContext } from '../../shared/request-context.js';
import { actorPolicy } from '../actor-policy.js';
import type { ActorTypeRow } from '../actor-types.repo.js';
import type { EffectiveAccess } from '../access.js';
import { auditRow, recordAudit } from '../audit-trail.js';
import type { Amr, AuthMethod } from '../auth-method.js';
import { devicesRepo } from '../devices.repo.js';
import type { OrgRole } from '../org-roles.js';
import { identifierOf, usersRepo, type UserRow } from '../users.repo.js';
import { AccessTokenIssuer, type TokenPair } from './access-token-issuer.js';
import { newDeviceNotice } from './new-device.js';
import { openingStatement, type Opening } from './open-statement.js';
import { SessionRotation } from './rotation.js';
import { SessionLeases } from './session-leases.js';
import { sessionsRepo, type DeviceSeen, type RevocationTarget, type StoredSession } from './sessions.repo.js';
import { assertNotSuspended, sessionEnded, sessionExpired } from './session-errors.js';

export type { TokenPair } from './access-token-issuer.js';

/** The device a sign-in names (the spec's `DeviceInfo`, `device` in login bodies). */
export interface DeviceInput {
  /** The id Sésame gave the device at an earlier sign-in (the `device_id` of its tokens). */
  id?: string;
  name?: string;
  type?: string;
  public_key?: string;
  push_token?: string;
}

export interface OpenSessionInput {
  user: UserRow;
  actorType: ActorTypeRow;
  /** The user's actor types, strictest first (they govern the lifetimes). */
  held: ActorTypeRow[];
  method: AuthMethod;
  amr: Amr[];
  rememberMe: boolean;
  device?: DeviceInput;
  /** The app's own device identifier (guests), kept on the session and in the token. */
  deviceId?: string;
  /** The registered device the session opens on: marked verified and active, its id in the token. */
  deviceRef?: string;
  context: RequestContext;
  /** false: no new-device email (a session opened from an existing one, as switch-actor). */
  notifyNewDevice?: boolean;
  /** A session opened from an existing one (switch-actor) never outlives it. */
  expiresNoLaterThan?: Date;
  /** More work for the transaction that opens the session (it commits or rolls back with it). */
  within?: (trx: Knex.Transaction, sessionId: string) => Promise<void>;
  /**
   * More writes that commit with the session, embedded in the statement that opens it
   * (data-modifying builders, not run): unlike `within`, they cost no transaction of their own.
   */
  writes?: Knex.QueryBuilder[];
  /** The user's effective access, when the caller read it with the user (else it is read here). */
  access?: EffectiveAccess;
  /** A session an administrator opens as the user (method `impersonation`). */
  impersonation?: Impersonation;
}

/** Who opens an impersonation session, from which of their sessions, and why. */
export interface Impersonation {
  /** The actor chain of the tokens: `sub` is the administrator. */
  act: ActClaim;
  /** The administrator's session: the impersonation ends with it. */
  impersonatorSessionId: string;
  reason: string;
}

export interface SessionSettings {
  refreshGraceSeconds: number;
  shortSessionSeconds: number;
  /** How long a lease on a live session may be trusted (0: read PostgreSQL on every check). */
  sessionCacheSeconds: number;
  /** The front end's base URL, for links in security emails. */
  appUrl: string;
}

export interface SessionsDeps {
  db: Knex;
  /** The fast-path store, for leases (only Redis: on the PostgreSQL store a lease would cost a read too). */
  store: FastStore;
  clock: Clock;
  tokens: AccessTokens;
  settings: SessionSettings;
  logger: Logger;
}

/** What a live session's check learns besides its being live. */
export interface LiveSession {
  /**
   * The token's organization, with the member's current role, while the session's membership
   * lasts and the organization is live; null when the token names none, or no longer holds.
   */
  organization: { id: string; role: OrgRole } | null;
}


/**
 * Sessions and their refresh-token families. PostgreSQL is the truth; access-token checks trust
 * short leases in Redis (session-leases.ts) that no Redis outage, flush or partition can stretch
 * past a revocation. Every revocation goes through `transaction` (or `revoke` without one), which
 * publishes it once it commits, before the caller answers.
 */
export class Sessions {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly tokens: AccessTokens;
  private readonly settings: SessionSettings;
  private readonly logger: Logger;
  private readonly leases: SessionLeases | undefined;
  private readonly issuer: AccessTokenIssuer;
  private readonly rotation: SessionRotation;
  /** The revocations each open transaction made, published once it commits. */
  private readonly pending = new WeakMap<Knex.Transaction, string[]>();

  constructor(deps: SessionsDeps) {
    ({ db: this.db, clock: this.clock, tokens: this.tokens, settings: this.settings, logger: this.logger } = deps);
    const leaseMs = deps.settings.sessionCacheSeconds * 1000;
    this.leases = deps.store.kind === 'redis' && leaseMs > 0 ? new SessionLeases({ store: deps.store, clock: deps.clock, logger: deps.logger, leaseMs }) : undefined;
    this.issuer = new AccessTokenIssuer({ tokens: deps.tokens, clock: deps.clock });
    this.rotation = new SessionRotation({ db: deps.db, clock: deps.clock, logger: deps.logger, issuer: this.issuer, sessions: this, refreshGraceSeconds: deps.settings.refreshGraceSeconds });
  }

  /**
   * A transaction in which sessions may be revoked (`revoke(target, reason, trx)`): once it
   * commits, its revocations are published to every instance before this resolves.
   */
  async transaction<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    const revoked: string[] = [];
    const result = await this.db.transaction((trx) => {
      this.pending.set(trx, revoked);
      return work(trx);
    });
    if (revoked.length && this.leases) await this.leases.publishRevoked(revoked, this.clock.now());
    return result;
  }

  /**
   * Opens a session (its refresh-token family, its `login.succeeded` audit row, the new-device
   * notice) in one statement, or in one transaction when an impersonation, a device or `within` joins it.
   */
  async open(input: OpenSessionInput): Promise<{ sessionId: string; tokens: TokenPair }> {
    const now = this.clock.now();
    const { sessionDuration } = actorPolicy.lifetimes(input.actorType, input.held);
    const lifetime = input.rememberMe ? sessionDuration : Math.min(sessionDuration, this.settings.shortSessionSeconds);
    const seen: DeviceSeen = { device_name: input.device?.name ?? null, user_agent: input.context.userAgent?.slice(0, 512) ?? null, ip: input.context.ip?.slice(0, 64) ?? null };
    const session: StoredSession = {
      id: randomUUID(),
      user_id: input.user.id,
      actor_type: input.actorType.name,
      auth_method: input.method,
      amr: input.amr,
      created_at: now,
      expires_at: new Date(Math.min(now.getTime() + lifetime * 1000, input.expiresNoLaterThan?.getTime() ?? Infinity)),
      revoked_at: null,
      ...seen,
      device_type: input.device?.type ?? null,
      device_id: input.deviceId ?? null,
      device_ref: input.deviceRef ?? null,
      last_active_at: now,
      act: input.impersonation?.act ?? null,
      impersonator_id: input.impersonation?.act.sub ?? null,
      impersonator_session_id: input.impersonation?.impersonatorSessionId ?? null,
    };
    // Sign first: a signing failure leaves no half-open session behind.
    const access = input.access
      ? await this.issuer.sign(session, input.user, input.actorType, input.held, input.access, undefined)
      : await this.issuer.issue(this.db, session, input.user, input.actorType, input.held);
    const refresh = newOpaqueToken();
    const { impersonation } = input;
    const details = { auth_method: session.auth_method, amr: session.amr, actor_type: session.actor_type };
    const identifier = identifierOf(input.user);
    const audit = auditRow(
      this.clock,
      impersonation
        ? {
            event: 'impersonation.started',
            userId: input.user.id,
            actorId: impersonation.act.sub,
            sessionId: session.id,
            identifier,
            context: input.context,
            details: { ...details, reason: impersonation.reason, act: impersonation.act, impersonator_session_id: impersonation.impersonatorSessionId, expires_at: session.expires_at.toISOString() },
          }
        : { event: 'login.succeeded', userId: input.user.id, sessionId: session.id, identifier, context: input.context, details },
    ) as Opening['audit'];
    const notice = input.notifyNewDevice === false ? undefined : newDeviceNotice(this.settings.appUrl, input.user, seen, now);
    const opening = (db: Knex) =>
      openingStatement(db, {
        session,
        refresh: { session_id: session.id, token_hash: refresh.hash, generation: 1, created_at: now },
        audit,
        device: input.notifyNewDevice === false ? undefined : { seen, notice: notice && outboxRow(this.clock, notice) },
        writes: input.writes ?? [],
      });
    if (!impersonation && !session.device_ref && !input.within) {
      // The common sign-in: one statement, no transaction (no lock held past it).
      await opening(this.db);
    } else {
      await this.transaction(async (trx) => {
        // The administrator's session, locked: one ending at this moment ends this one too, or refuses it.
        if (impersonation && !(await sessionsRepo.lockLive(trx, impersonation.impersonatorSessionId, impersonation.act.sub, now))) {
          throw sessionEnded();
        }
        if (session.device_ref && !(await devicesRepo.markSignedIn(trx, session.device_ref, seen.ip, now))) {
          throw new AppError('session_revoked', { detail: 'This device has been revoked; sign in again.' });
        }
        // Last, so what `writes` lock (the lockout row) is held only until COMMIT (`within` is for derived sessions, which have no `writes`).
        await opening(trx);
        await input.within?.(trx, session.id);
      });
    }
    return { sessionId: session.id, tokens: { ...access, refresh_token: refresh.token } };
  }

  /** Rotates a refresh token (see SessionRotation.refresh). */
  refresh(refreshToken: string, context: RequestContext = {}): Promise<TokenPair> {
    return this.rotation.refresh(refreshToken, context);
  }

  /** Makes an organization (or none) the session's active one (see SessionRotation.setActiveOrganization). */
  setActiveOrganization(auth: { sub: string; sid: string }, organizationId: string | null, context: RequestContext): Promise<TokenPair> {
    return this.rotation.setActiveOrganization(auth, organizationId, context);
  }

  /**
   * Revokes the given sessions, or every live session of a user (but `exceptSessionId`): inside
   * `trx`, a transaction of `transaction()`, so it commits with the change it belongs to and is
   * published after; without one, in its own.
   */
  async revoke(target: RevocationTarget, reason: string, trx?: Knex.Transaction): Promise<string[]> {
    if (!trx) return this.transaction((own) => this.revoke(target, reason, own));
    const pending = this.pending.get(trx);
    if (!pending) throw new Error('sessions are revoked inside Sessions.transaction(), so the revocation is published once it commits');
    const { revoked, ended } = await sessionsRepo.revoke(trx, target, reason, this.clock.now());
    // Impersonations opened from a revoked session end with it, and are published with it.
    pending.push(...revoked, ...ended);
    return revoked;
  }

  /** Logout: this session, or every session of the user, with its `logout` audit row. */
  async logout(auth: { sub: string; sid: string }, allDevices: boolean, context: RequestContext): Promise<void> {
    const target = allDevices ? { userId: auth.sub } : { sessionIds: [auth.sid] };
    await this.transaction(async (trx) => {
      await this.revoke(target, 'logout', trx);
      const user = await usersRepo.findLiveById(trx, auth.sub);
      await recordAudit(trx, this.clock, { event: 'logout', userId: auth.sub, sessionId: auth.sid, identifier: user && identifierOf(user), context, details: { all_devices: allDevices } });
    });
  }

  /** The user's live sessions, newest first, a page at a time (keyset on created_at, id). */
  async list(userId: string, page: PageRequest): Promise<Page<StoredSession>> {
    return sessionsRepo.listLive(this.db, userId, this.clock.now(), page);
  }

  /** One of the user's sessions (live or not), as stored; undefined for anyone else's. */
  async findOwned(userId: string, sessionId: string): Promise<StoredSession | undefined> {
    const session = await sessionsRepo.find(this.db, sessionId);
    return session?.user_id === userId ? session : undefined;
  }

  /**
   * Revokes one of the user's live sessions (the current one included: that is a logout). Another
   * user's session, an ended one and an unknown id get the same 404.
   */
  async revokeOne(userId: string, sessionId: string, context: RequestContext): Promise<void> {
    await this.transaction(async (trx) => {
      const live = await sessionsRepo.lockLive(trx, sessionId, userId, this.clock.now());
      if (!live) throw new AppError('session_not_found', { detail: 'No such live session on this account.' });
      await this.revokeAudited(trx, userId, { sessionIds: [sessionId] }, 'user_revoked', context);
    });
  }

  /** Revokes every session of the user but the current one; returns how many were revoked. */
  async revokeOthers(userId: string, currentSid: string, context: RequestContext): Promise<number> {
    const revoked = await this.transaction((trx) => this.revokeAudited(trx, userId, { userId, exceptSessionId: currentSid }, 'user_revoked_others', context));
    return revoked.length;
  }

  /** Revokes inside `trx` and writes one `session.revoked` row per revoked session. */
  async revokeAudited(trx: Knex.Transaction, userId: string, target: RevocationTarget, reason: string, context: RequestContext): Promise<string[]> {
    const ids = await this.revoke(target, reason, trx);
    const identifier = ids.length ? await usersRepo.identifierOf(trx, userId) : null;
    for (const id of ids) {
      await recordAudit(trx, this.clock, { event: 'session.revoked', userId, sessionId: id, identifier, context, details: { reason } });
    }
    return ids;
  }

  /**
   * Throws unless the access token's session is live now: not revoked or expired, its user not
   * deleted or suspended, and the token's subject the session's user. A trusted lease answers
   * without PostgreSQL, for tokens outside any organization; a token naming an organization always
   * reads it, so a removed member's token loses the organization at once.
   */
  async assertLive(token: Pick<VerifiedAccessToken, 'sid' | 'sub' | 'org_id'>): Promise<LiveSession> {
    const lease = token.org_id === undefined ? await this.leases?.trusted(token.sid, token.sub) : undefined;
    if (lease) {
      if (lease.expiresAt <= this.clock.now().getTime()) throw sessionExpired();
      return { organization: null };
    }
    const readAt = this.clock.now().getTime();
    const session = await sessionsRepo.liveness(this.db, token.sid);
    if (!session || session.revoked_at || session.deleted_at || session.user_id !== token.sub) {
      if (session?.revoked_at) await this.leases?.markRevoked(token.sid);
      throw sessionEnded();
    }
    assertNotSuspended(session);
    if (session.expires_at <= this.clock.now()) throw sessionExpired();
    if (token.org_id === undefined) {
      await this.leases?.grant(token.sid, { sub: token.sub, readAt, expiresAt: session.expires_at.getTime() });
      return { organization: null };
    }
    // A token keeps its organization only while the session's membership in it lasts.
    const sameOrg = session.org_id === token.org_id && session.org_role !== null;
    return { organization: sameOrg ? { id: session.org_id!, role: session.org_role as OrgRole } : null };
  }

  /** Live sessions per actor type (the `auth_active_sessions` gauge). */
  liveCounts(): Promise<Array<{ role: string; count: number }>> {
    return sessionsRepo.liveCountsByActorType(this.db, this.clock.now());
  }


}
