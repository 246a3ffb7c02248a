import { decodeProtectedHeader } from 'jose';
import type { Clock } from '../../infra/clock.js';
import type { AccessTokens, VerifiedAccessToken } from '../../infra/tokens.js';

interface Entry {
  claims: VerifiedAccessToken;
  kid: string;
}

/** The part of SigningKeys the cache asks: is this key still one the instance accepts? */
export interface VerificationKeys {
  verificationKey(kid: string): Promise<unknown>;
}

/**
 * Remembers the access tokens whose signature this instance has already checked: a gateway
 * sends the same token on every request, and the ES256 verification is most of the endpoint's
 * CPU (~200 µs). Only that pure check is memoised. A hit still needs the token unexpired on the
 * clock and its signing key still accepted (a withdrawn key stops its tokens just as fast as
 * without the cache); the caller checks the session on every call. Failures are not cached.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly tokens: Pick<AccessTokens, 'verify'>,
    private readonly keys: VerificationKeys,
    private readonly clock: Clock,
    private readonly maxEntries = 10_000,
  ) {}

  /** As AccessTokens.verify (same claims, same AppErrors). */
  async verify(token: string): Promise<VerifiedAccessToken> {
    const hit = this.entries.get(token);
    if (hit) {
      // jose's rule: expired once exp <= now in whole seconds.
      if (hit.claims.exp > Math.floor(this.clock.now().getTime() / 1000) && (await this.keys.verificationKey(hit.kid))) return hit.claims;
      this.entries.delete(token);
    }
    const claims = await this.tokens.verify(token);
    this.remember(token, { claims, kid: decodeProtectedHeader(token).kid! });
    return claims;
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(token: string, entry: Entry): void {
    // Oldest first out: Map keeps insertion order. Bounded, so memory is too.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, entry);
  }
}
