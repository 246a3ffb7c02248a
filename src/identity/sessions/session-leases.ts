import type { Logger } from 'pino';
import type { Clock } from '../../infra/clock.js';
import type { FastStore } from '../../infra/store/store.js';

/** How far two instances' clocks may disagree; a lease is trusted by the reader's clock. */
export const leaseClockSkewMs = 1000;
const revokedMarkerMs = 24 * 3600 * 1000;
const keyOf = (sid: string) => `session:${sid}`;

/** What an instance found in PostgreSQL, and when it looked. */
export interface Lease {
  sub: string;
  /** When the instance started the read that found the session live (its clock). */
  readAt: number;
  /** When the session itself expires. */
  expiresAt: number;
}

/**
 * Leases on live sessions, in the fast-path store, so most access-token checks need no
 * PostgreSQL read. Whatever happens to Redis, a revoked session is accepted at most `leaseMs`
 * (SESSION_CACHE_SECONDS) after a PostgreSQL read that found it live:
 * - a lease is trusted only `leaseMs` after the PostgreSQL read that granted it, by the reader's
 *   clock (never by Redis's TTL alone), and only for the subject it was granted to;
 * - a revocation overwrites the lease with a `revoked` marker once it commits; a lease can never
 *   be granted over that marker (set-if-absent);
 * - a revocation whose marker cannot be written (Redis down, flushed, or cut off from this
 *   instance only) waits until every lease granted before it has lapsed before it answers, so
 *   once a logout has answered, no instance accepts the session;
 * - a `revoked` marker is only a hint: the session is read in PostgreSQL (a revocation that rolled
 *   back leaves a live session live).
 * The one window left: a flush that erases a marker while a read from before the revocation is
 * in flight lets that read's lease be written and trusted, up to `leaseMs` after the read began.
 */
export class SessionLeases {
  constructor(private readonly deps: { store: FastStore; clock: Clock; logger: Logger; leaseMs: number }) {}

  /** A lease this instance may trust now, or undefined (then read PostgreSQL). */
  async trusted(sid: string, sub: string): Promise<Lease | undefined> {
    let value: string | null;
    try {
      value = await this.deps.store.get(keyOf(sid));
    } catch (err) {
      this.deps.logger.warn({ err }, 'fast-path store unavailable; checking the session in PostgreSQL');
      return undefined;
    }
    const lease = parse(value);
    if (!lease || lease.sub !== sub) return undefined;
    return this.deps.clock.now().getTime() - lease.readAt < this.deps.leaseMs ? lease : undefined;
  }

  /** After a PostgreSQL read, started at `readAt`, found the session live. Never over a `revoked` marker. */
  async grant(sid: string, lease: Lease): Promise<void> {
    const ttl = lease.readAt + this.deps.leaseMs - this.deps.clock.now().getTime();
    if (ttl <= 0) return;
    await this.deps.store.setIfAbsent(keyOf(sid), `live:${lease.sub}:${lease.readAt}:${lease.expiresAt}`, ttl).catch(() => undefined);
  }

  /** After PostgreSQL said revoked: other instances may skip their read. */
  async markRevoked(sid: string): Promise<void> {
    await this.deps.store.set(keyOf(sid), 'revoked', revokedMarkerMs).catch(() => undefined);
  }

  /**
   * Once revocations committed at `committedAt`: their markers replace any lease. When a marker
   * cannot be written, waits until the leases granted before the commit have lapsed on every
   * instance's clock.
   */
  async publishRevoked(sessionIds: string[], committedAt: Date): Promise<void> {
    const written = await Promise.all(
      sessionIds.map((sid) =>
        this.deps.store.set(keyOf(sid), 'revoked', revokedMarkerMs).then(
          () => true,
          (err: unknown) => {
            this.deps.logger.error({ err, sessionId: sid }, 'could not publish a session revocation to the fast-path store; waiting out its leases');
            return false;
          },
        ),
      ),
    );
    if (written.every(Boolean)) return;
    await this.deps.clock.sleepUntil(new Date(committedAt.getTime() + this.deps.leaseMs + leaseClockSkewMs));
  }
}

function parse(value: string | null): Lease | undefined {
  const m = value === null ? null : /^live:([^:]+):(\d+):(\d+)$/.exec(value);
  return m ? { sub: m[1]!, readAt: Number(m[2]), expiresAt: Number(m[3]) } : undefined;
}
