import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../infra/clock.js';
import type { FastStore } from '../../infra/store/store.js';
import { AccessTokens, hashOpaqueToken, newOpaqueToken, type VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import { recordAudit, type RequestContext } from '../audit/audit.js';
import { effectiveAccess } from '../rbac/access.js';
import { usersRepo, type ActorTypeRow, type UserRow } from '../users/users.repo.js';
import { notifyIfNewDevice, type DeviceSeen } from './new-device.js';
import { createdUsSql, decodeCursor, encodeCursor, toSessionView, type ListedRow, type SessionView } from './session-list.js';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export interface SessionRow {
  id: string;
  user_id: string;
  actor_type: string;
  auth_method: string;
  amr: string[];
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

interface RefreshRow {
  id: string;
  session_id: string;
  token_hash: string;
  generation: number;
  rotated_at: Date | null;
}

export interface OpenSessionInput {
  user: UserRow;
  actorType: ActorTypeRow;
  authMethod: string;
  amr: string[];
  rememberMe: boolean;
  device?: { name?: string; type?: string };
  /** The app's own device identifier (guests), kept on the session and in the token. */
  deviceId?: string;
  ip?: string;
  userAgent?: string;
  /** false: no new-device email (a session opened from an existing one, as switch-actor). */
  notifyNewDevice?: boolean;
  /** A session opened from an existing one (switch-actor) never outlives it. */
  expiresNoLaterThan?: Date;
  /** The user's actor types, strictest first, when the caller has just read them (else read here). */
  heldActorTypes?: ActorTypeRow[];
}

/**
 * The lifetimes a session of `acting` gets: its own, but never longer than those of the user's
 * strictest (highest-priority) actor type, which governs when a user holds several.
 */
export function governedLifetimes(acting: ActorTypeRow, held: ActorTypeRow[]): { accessTtl: number; sessionDuration: number } {
  const governing = held[0] ?? acting;
  return {
    accessTtl: Math.min(acting.access_token_ttl, governing.access_token_ttl),
    sessionDuration: Math.min(acting.session_duration, governing.session_duration),
  };
}

export interface SessionSettings {
  refreshGraceSeconds: number;
  shortSessionSeconds: number;
  sessionCacheSeconds: number;
  /** The front end's base URL, for links in security emails. */
  appUrl: string;
}

const markerKey = (sid: string) => `session:${sid}`;
const revokedMarkerMs = 24 * 3600 * 1000;

/** The user's email, for the audit row's masked identifier (null without one). */
async function emailOf(trx: Knex.Transaction, userId: string): Promise<string | null> {
  const row: { email: string | null } | undefined = await trx('users').where({ id: userId }).first('email');
  return row?.email ?? null;
}

/**
 * Sessions and their refresh-token families. PostgreSQL is the truth; the fast-path store keeps
 * revocation markers (so every instance rejects a revoked session at once) and a short cache of
 * live sessions. A missing marker always falls back to the database.
 */
export class Sessions {
  constructor(
    private readonly db: Knex,
    private readonly store: FastStore,
    private readonly clock: Clock,
    private readonly tokens: AccessTokens,
    private readonly settings: SessionSettings,
    private readonly logger: Logger,
  ) {}

  async open(input: OpenSessionInput): Promise<{ sessionId: string; tokens: TokenPair }> {
    const now = this.clock.now();
    const held = input.heldActorTypes ?? (await usersRepo.actorTypesOf(this.db, input.user.id));
    const { sessionDuration } = governedLifetimes(input.actorType, held);
    const lifetime = input.rememberMe ? sessionDuration : Math.min(sessionDuration, this.settings.shortSessionSeconds);
    const session = {
      id: randomUUID(),
      user_id: input.user.id,
      actor_type: input.actorType.name,
      auth_method: input.authMethod,
      amr: input.amr,
      created_at: now,
      expires_at: new Date(Math.min(now.getTime() + lifetime * 1000, input.expiresNoLaterThan?.getTime() ?? Infinity)),
      revoked_at: null,
    } satisfies SessionRow;
    // Sign first: a signing failure leaves no half-open session behind.
    const access = await this.issueAccess(this.db, { ...session, device_id: input.deviceId ?? null }, input.user, input.actorType, held);
    const refresh = newOpaqueToken();
    const seen: DeviceSeen = { device_name: input.device?.name ?? null, user_agent: input.userAgent?.slice(0, 512) ?? null, ip: input.ip?.slice(0, 64) ?? null };
    await this.db.transaction(async (trx) => {
      const newDevice = input.notifyNewDevice === false ? false : await notifyIfNewDevice(trx, this.clock, this.settings.appUrl, input.user, seen, now);
      await trx('sessions').insert({ ...session, ...seen, device_type: input.device?.type ?? null, device_id: input.deviceId ?? null, last_active_at: now });
      await trx('refresh_tokens').insert({ session_id: session.id, token_hash: refresh.hash, generation: 1, created_at: now });
      await recordAudit(trx, this.clock, {
        event: 'login.succeeded',
        userId: input.user.id,
        sessionId: session.id,
        identifier: input.user.email,
        context: { ip: input.ip, userAgent: input.userAgent },
        details: { auth_method: session.auth_method, amr: session.amr, actor_type: session.actor_type, new_device: newDevice },
      });
    });
    return { sessionId: session.id, tokens: { ...access, refresh_token: refresh.token } };
  }

  /**
   * Rotates a refresh token. The family's current token rotates normally; its immediate
   * predecessor, within the grace window, gets a fresh pair that supersedes the current one;
   * anything else is reuse and revokes the whole session. The session row is locked, so
   * concurrent refreshes are serialised and the family never forks. Reuse is audited with `context`.
   */
  async refresh(refreshToken: string, context: RequestContext = {}): Promise<TokenPair> {
    const presentedHash = hashOpaqueToken(refreshToken);
    const outcome = await this.db.transaction(async (trx) => {
      const found = await trx<RefreshRow>('refresh_tokens').where({ token_hash: presentedHash }).first('session_id');
      if (!found) throw new AppError('invalid_refresh_token', { detail: 'The refresh token is not valid.' });
      const session = await trx<SessionRow>('sessions').where({ id: found.session_id }).forUpdate().first();
      if (!session || session.revoked_at) throw new AppError('session_revoked', { detail: 'The session has ended.' });
      // Read the family only once the session is locked: a concurrent refresh may just have rotated it.
      const presented = (await trx<RefreshRow>('refresh_tokens').where({ token_hash: presentedHash }).first())!;
      const now = this.clock.now();
      if (session.expires_at <= now) throw new AppError('session_expired', { detail: 'The session has expired; log in again.' });

      const current = await trx<RefreshRow>('refresh_tokens').where({ session_id: session.id }).orderBy('generation', 'desc').first();
      const isCurrent = current?.id === presented.id;
      const graceMs = this.settings.refreshGraceSeconds * 1000;
      const isGracefulRetry =
        current !== undefined &&
        presented.generation === current.generation - 1 &&
        presented.rotated_at !== null &&
        now.getTime() - presented.rotated_at.getTime() <= graceMs;
      if (!current || (!isCurrent && !isGracefulRetry)) {
        await trx('sessions').where({ id: session.id }).update({ revoked_at: now, revoked_reason: 'refresh_token_reused' });
        await recordAudit(trx, this.clock, {
          event: 'refresh_token.reused',
          userId: session.user_id,
          sessionId: session.id,
          identifier: await emailOf(trx, session.user_id),
          context,
          details: { session_id: session.id },
        });
        return { reused: true as const, sessionId: session.id };
      }

      const user = await trx<UserRow>('users').where({ id: session.user_id }).whereNull('deleted_at').first();
      if (!user) throw new AppError('session_revoked', { detail: 'The session has ended.' });
      if (user.status === 'suspended') throw new AppError('account_suspended', { detail: 'This account is suspended.' });
      const held = await usersRepo.actorTypesOf(trx, user.id);
      const actorType = held.find((a) => a.name === session.actor_type);
      if (!actorType) throw new AppError('session_revoked', { detail: 'The session has ended.' });
      if (!actorType.allowed_methods.includes(session.auth_method)) {
        // An admin removed the session's sign-in method from its actor type: the session ends here.
        const reason = 'auth_method_not_allowed';
        await trx('sessions').where({ id: session.id }).update({ revoked_at: now, revoked_reason: reason });
        await recordAudit(trx, this.clock, { event: 'session.revoked', userId: user.id, sessionId: session.id, identifier: user.email, context, details: { reason } });
        return { methodRevoked: true as const, sessionId: session.id };
      }

      await trx('refresh_tokens').where({ id: current.id }).whereNull('rotated_at').update({ rotated_at: now });
      const next = newOpaqueToken();
      await trx('refresh_tokens').insert({ session_id: session.id, token_hash: next.hash, generation: current.generation + 1, created_at: now });
      await trx('sessions').where({ id: session.id }).update({ last_active_at: now });
      const access = await this.issueAccess(trx, session, user, actorType, held);
      return { reused: false as const, tokens: { ...access, refresh_token: next.token } };
    });
    if (outcome.methodRevoked) {
      await this.markRevoked([outcome.sessionId]);
      throw new AppError('session_revoked', { detail: 'The session has ended: its sign-in method is no longer allowed for its actor type.' });
    }
    if (outcome.reused) {
      await this.markRevoked([outcome.sessionId]);
      this.logger.warn({ sessionId: outcome.sessionId }, 'refresh token reuse: session revoked');
      throw new AppError('refresh_token_reused', { detail: 'This refresh token was already used; the session has been revoked.' });
    }
    return outcome.tokens;
  }

  /**
   * Revokes the given sessions, or every live session of a user (but `exceptSessionId`), in the
   * database (inside `trx` when given: call markRevoked once it commits), then marks them.
   */
  async revoke(target: { sessionIds: string[] } | { userId: string; exceptSessionId?: string }, reason: string, trx?: Knex.Transaction): Promise<string[]> {
    const query = (trx ?? this.db)('sessions').whereNull('revoked_at');
    if ('userId' in target) {
      query.where({ user_id: target.userId });
      if (target.exceptSessionId) query.whereNot({ id: target.exceptSessionId });
    } else query.whereIn('id', target.sessionIds);
    const rows: Array<{ id: string }> = await query.update({ revoked_at: this.clock.now(), revoked_reason: reason }).returning('id');
    const ids = rows.map((r) => r.id);
    if (!trx) await this.markRevoked(ids);
    return ids;
  }

  /** The user's live sessions, newest first, a page at a time (keyset on created_at, id). */
  async list(userId: string, currentSid: string, page: { limit: number; cursor?: string }): Promise<{ items: SessionView[]; next_cursor: string | null }> {
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
    const query = this.db<ListedRow>('sessions')
      .select('*', this.db.raw(`${createdUsSql}::text as created_us`))
      .where({ user_id: userId })
      .whereNull('revoked_at')
      .where('expires_at', '>', this.clock.now())
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(page.limit + 1);
    if (after) query.whereRaw(`(${createdUsSql}, id) < (?::bigint, ?::uuid)`, [after.createdUs, after.id]);
    const rows: ListedRow[] = await query;
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    return { items: items.map((r) => toSessionView(r, currentSid)), next_cursor: rows.length > page.limit && last ? encodeCursor(last) : null };
  }

  /**
   * Revokes one of the user's live sessions (the current one included: that is a logout). Another
   * user's session, an ended one and an unknown id get the same 404.
   */
  async revokeOne(userId: string, sessionId: string, context: RequestContext): Promise<void> {
    const revoked = await this.db.transaction(async (trx) => {
      const live = await trx('sessions')
        .where({ id: sessionId, user_id: userId })
        .whereNull('revoked_at')
        .where('expires_at', '>', this.clock.now())
        .forUpdate()
        .first('id');
      if (!live) throw new AppError('session_not_found', { detail: 'No such live session on this account.' });
      return this.revokeAudited(trx, userId, { sessionIds: [sessionId] }, 'user_revoked', context);
    });
    await this.markRevoked(revoked);
  }

  /** Revokes every session of the user but the current one; returns how many were revoked. */
  async revokeOthers(userId: string, currentSid: string, context: RequestContext): Promise<number> {
    const revoked = await this.db.transaction((trx) => this.revokeAudited(trx, userId, { userId, exceptSessionId: currentSid }, 'user_revoked_others', context));
    await this.markRevoked(revoked);
    return revoked.length;
  }

  /** Revokes inside `trx` and writes one `session.revoked` row per revoked session. */
  private async revokeAudited(trx: Knex.Transaction, userId: string, target: Parameters<Sessions['revoke']>[0], reason: string, context: RequestContext): Promise<string[]> {
    const ids = await this.revoke(target, reason, trx);
    const identifier = ids.length ? await emailOf(trx, userId) : null;
    for (const id of ids) {
      await recordAudit(trx, this.clock, { event: 'session.revoked', userId, sessionId: id, identifier, context, details: { reason } });
    }
    return ids;
  }

  /** Publishes revocations to every instance; call after the revoking transaction commits. */
  async markRevoked(sessionIds: string[]): Promise<void> {
    await Promise.all(
      sessionIds.map((sid) =>
        this.store.set(markerKey(sid), 'revoked', revokedMarkerMs).catch((err) => {
          // The database already says revoked; cached "active" entries expire within the cache window.
          this.logger.error({ err, sessionId: sid }, 'could not publish a session revocation to the fast-path store');
        }),
      ),
    );
  }

  /** Throws unless the access token's session is live. */
  async assertLive(token: VerifiedAccessToken): Promise<void> {
    const key = markerKey(token.sid);
    let marker: string | null = null;
    try {
      marker = await this.store.get(key);
    } catch (err) {
      this.logger.warn({ err }, 'fast-path store unavailable; checking the session in PostgreSQL');
    }
    if (marker === 'active') return;
    if (marker !== 'revoked') {
      const session: (Pick<SessionRow, 'revoked_at' | 'expires_at' | 'user_id'> & { status: string; deleted_at: Date | null }) | undefined = await this.db('sessions')
        .join('users', 'users.id', 'sessions.user_id')
        .where('sessions.id', token.sid)
        .first('sessions.revoked_at', 'sessions.expires_at', 'sessions.user_id', 'users.status', 'users.deleted_at');
      const open = session && !session.revoked_at && !session.deleted_at && session.user_id === token.sub;
      if (open && session.status === 'suspended') throw new AppError('account_suspended', { detail: 'This account is suspended.' });
      if (open && session.expires_at <= this.clock.now()) throw new AppError('session_expired', { detail: 'The session has expired; log in again.' });
      if (open) {
        await this.store.setIfAbsent(key, 'active', this.settings.sessionCacheSeconds * 1000).catch(() => undefined);
        return;
      }
      if (session?.revoked_at) await this.store.set(key, 'revoked', revokedMarkerMs).catch(() => undefined);
    }
    throw new AppError('session_revoked', { detail: 'The session has ended.' });
  }

  /**
   * Signs an access token with the user's current roles and permissions. Its lifetime is the
   * governed one, cut short when a role grant expires sooner (so an expired grant stops granting).
   */
  private async issueAccess(db: Knex, session: SessionRow & { device_id?: string | null }, user: UserRow, actorType: ActorTypeRow, held: ActorTypeRow[]): Promise<Omit<TokenPair, 'refresh_token'>> {
    const now = this.clock.now();
    const access = await effectiveAccess(db, user.id, now);
    let ttl = governedLifetimes(actorType, held).accessTtl;
    if (access.validUntil) ttl = Math.max(1, Math.min(ttl, Math.floor((access.validUntil.getTime() - now.getTime()) / 1000)));
    const { token } = await this.tokens.sign(
      {
        sub: user.id,
        sid: session.id,
        actor_type: actorType.name,
        amr: session.amr,
        status: user.status,
        is_guest: user.is_guest,
        roles: access.roles.map((r) => r.name),
        permissions: access.permissions,
        plan: access.plan,
        ...(session.device_id ? { device_id: session.device_id } : {}),
      },
      ttl,
    );
    return { access_token: token, token_type: 'Bearer', expires_in: ttl };
  }
}
