import { SesameAuthError } from './errors.js';
import type { Clock } from './jwks.js';

/** The longest a "session is live" answer may be reused: revocation must stay fast. */
export const maxLiveCacheSeconds = 30;
const maxEntries = 10_000;

/**
 * Asks Sésame (`GET /api/v1/auth/verify`) whether a token's session is still live: logout,
 * revocation, suspension and deletion are seen at once. A positive answer may be reused for
 * `cacheSeconds` (0: ask on every request), never past the token's expiry; concurrent checks of
 * one token share one call. Sésame unreachable → 503 (fails closed).
 */
export class LiveCheck {
  private readonly live = new Map<string, number>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly verifyUrl: string,
    private readonly options: { cacheSeconds: number; timeoutMs: number; clock: Clock; fetch: typeof fetch },
  ) {
    if (!(options.cacheSeconds >= 0 && options.cacheSeconds <= maxLiveCacheSeconds)) {
      throw new TypeError(`live.cacheSeconds must be between 0 and ${maxLiveCacheSeconds}`);
    }
  }

  async assertLive(token: string, expiresAtMs: number): Promise<void> {
    const now = this.options.clock.now().getTime();
    const until = this.live.get(token);
    if (until !== undefined) {
      if (until > now) return;
      this.live.delete(token);
    }
    let check = this.pending.get(token);
    if (!check) {
      check = this.ask(token, expiresAtMs).finally(() => this.pending.delete(token));
      this.pending.set(token, check);
    }
    return check;
  }

  private async ask(token: string, expiresAtMs: number): Promise<void> {
    let response: Response;
    try {
      const call = this.options.fetch;
      response = await call(this.verifyUrl, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (cause) {
      throw new SesameAuthError('service_unavailable', 'Sésame could not be reached to check the session.', { cause });
    }
    if (response.status === 401) {
      const code = await codeOf(response);
      if (code === 'token_expired') throw new SesameAuthError('token_expired', 'The access token has expired.');
      if (code === 'invalid_token') throw new SesameAuthError('invalid_token', 'The access token is not valid.');
      throw new SesameAuthError('session_revoked', 'The session has ended.');
    }
    await response.body?.cancel();
    if (response.status !== 200) throw new SesameAuthError('service_unavailable', `Sésame answered ${response.status} to the session check.`);
    const ttl = this.options.cacheSeconds * 1000;
    if (ttl > 0) this.remember(token, Math.min(this.options.clock.now().getTime() + ttl, expiresAtMs));
  }

  private remember(token: string, until: number): void {
    // Oldest out first (Map keeps insertion order): memory stays bounded.
    if (this.live.size >= maxEntries) this.live.delete(this.live.keys().next().value!);
    this.live.set(token, until);
  }
}

async function codeOf(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.json()) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : undefined;
  } catch {
    return undefined;
  }
}
