import type { Clock } from '../../infra/clock.js';
import type { FastStore } from '../../infra/store/store.js';
import { hashOpaqueToken, newOpaqueToken } from '../../infra/tokens.js';

/**
 * Single-use secrets (flow states, exchange codes) in the fast-path store, shared by every
 * instance: stored under the hash of the secret, taken atomically (exactly one of parallel takes
 * gets the value), and dead after `ttlMs` by the injected clock as well as by the store's TTL.
 * Losing the store (flush, outage) loses only flows in progress, which then fail.
 */
export class OneTimeStore<T> {
  constructor(
    private readonly store: FastStore,
    private readonly clock: Clock,
    private readonly namespace: string,
    private readonly ttlMs: number,
  ) {}

  /** A new random secret (256 bits, base64url) holding `value`. */
  async put(value: T, secret = newSecret()): Promise<string> {
    const expiresAt = this.clock.now().getTime() + this.ttlMs;
    await this.store.set(this.key(secret), JSON.stringify({ value, expiresAt }), this.ttlMs);
    return secret;
  }

  /** The value, once; undefined for an unknown, used or expired secret. */
  async take(secret: string): Promise<T | undefined> {
    const raw = await this.store.take(this.key(secret));
    if (raw === null) return undefined;
    const { value, expiresAt } = JSON.parse(raw) as { value: T; expiresAt: number };
    return this.clock.now().getTime() < expiresAt ? value : undefined;
  }

  private key(secret: string): string {
    return `${this.namespace}:${hashOpaqueToken(secret)}`;
  }
}

/** A one-time secret: an opaque token of newOpaqueToken's format (opaqueTokenFormat). */
export function newSecret(): string {
  return newOpaqueToken().token;
}
