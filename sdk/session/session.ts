import { createClient, type Client } from '../src/client/index.js';
import { login, logout, refreshToken, verifyTwoFactor } from '../src/sdk.gen.js';
import type { LoginRequest, Problem, TokenPair, TwoFactorVerifyRequest, User } from '../src/types.gen.js';
import { memoryStorage, type SessionStorage } from './storage.js';
import { parseStored, toStored, type StoredSession } from './stored-session.js';

/** The time source; inject one in tests instead of waiting for tokens to expire. */
export interface Clock {
  now(): Date;
}

/** The part of the Web Locks API (`navigator.locks`) the session uses. */
export interface LockManagerLike {
  request<T>(name: string, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

export type SessionEvent =
  | { type: 'signed_in'; user: User }
  | { type: 'refreshed'; user: User }
  | { type: 'signed_out' }
  /** The server ended the session: revoked, expired, refresh-token reuse, or a suspended account (`reason` is the error code). */
  | { type: 'session_revoked'; reason: string };

export interface SessionOptions {
  /** Sésame's URL, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** Where tokens are kept: `memoryStorage()` (default), `webStorage()` (localStorage, shared by tabs) or your own. */
  storage?: SessionStorage;
  /** The storage key; also names the cross-tab refresh lock. */
  storageKey?: string;
  /** The fetch every request goes through (default `globalThis.fetch`). */
  fetch?: typeof fetch;
  clock?: Clock;
  /** Refresh when the access token has less than this left (default 60 s, at most half its lifetime). */
  refreshMarginSeconds?: number;
  /** Cross-context lock for refreshes; default `navigator.locks` where it exists, else none (see README). */
  locks?: LockManagerLike | null;
}

/** A refresh that failed for a reason that does not end the session (network, 5xx, 429): the tokens are kept. */
export class SessionRefreshError extends Error {
  constructor(
    readonly status: number | undefined,
    readonly problem: unknown,
  ) {
    super(status ? `token refresh failed with HTTP ${status}` : 'token refresh failed: Sésame could not be reached');
    this.name = 'SessionRefreshError';
  }
}

const systemClock: Clock = { now: () => new Date() };

function defaultLocks(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks && typeof nav.locks.request === 'function' ? nav.locks : null;
}

function bearerOf(header: string | null): string | undefined {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

/** The problem+json `code` of an error response, read from a copy so the caller can still read the body. */
async function problemCode(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.clone().json()) as Partial<Problem>;
    return typeof body.code === 'string' ? body.code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A signed-in user's tokens, kept fresh. `client` is an SDK client whose calls carry the access
 * token, refreshed shortly before it expires with exactly one refresh in flight (per session
 * across tabs where the Web Locks API exists), and retried once after a 401 `token_expired`.
 * See the SDK README ("Sessions").
 */
export class SesameSession {
  /** Pass it to any SDK operation: `listSessions({ client: session.client })`. */
  readonly client: Client;
  private readonly plain: Client;
  private readonly storage: SessionStorage;
  private readonly key: string;
  private readonly clock: Clock;
  private readonly marginMs: number;
  private readonly locks: LockManagerLike | null;
  private readonly send: (request: Request) => Promise<Response>;
  private readonly listeners = new Set<(event: SessionEvent) => void>();
  private readonly unsubscribe: () => void;
  /** The state last read or written; undefined before the first read. */
  private seen: StoredSession | null | undefined;
  private inflight: Promise<StoredSession | null> | undefined;
  private writing = false;

  constructor(options: SessionOptions) {
    const baseFetch = options.fetch ?? globalThis.fetch;
    // Called unbound: window.fetch throws "Illegal invocation" when called as another object's method.
    this.send = (request) => baseFetch(request);
    this.storage = options.storage ?? memoryStorage();
    this.key = options.storageKey ?? 'sesame.session';
    this.clock = options.clock ?? systemClock;
    this.marginMs = (options.refreshMarginSeconds ?? 60) * 1000;
    this.locks = options.locks === undefined ? defaultLocks() : options.locks;
    this.plain = createClient({ baseUrl: options.baseUrl, fetch: (input, init) => this.send(new Request(input, init)) });
    this.client = createClient({
      baseUrl: options.baseUrl,
      fetch: (input, init) => this.fetch(input, init),
      auth: (auth) => (auth.scheme === 'bearer' ? this.accessToken() : undefined),
    });
    // A change notified while this session writes is its own (memoryStorage notifies every subscriber).
    const changedElsewhere = () => void (this.writing || this.read().catch(() => undefined));
    this.unsubscribe = this.storage.subscribe?.(this.key, changedElsewhere) ?? (() => undefined);
  }

  /** The signed-in user as last seen (call `load()` first after a page load). */
  get user(): User | null {
    return this.seen?.user ?? null;
  }

  get signedIn(): boolean {
    return Boolean(this.seen);
  }

  /** Reads the stored session (no network): the user, or null when signed out. */
  async load(): Promise<User | null> {
    return (await this.read())?.user ?? null;
  }

  /** Calls `listener` on every sign-in state change, here or in another tab sharing the storage. */
  onChange(listener: (event: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Password sign-in. On success the session holds the tokens; a 2FA account answers `mfa_required` (finish with `verifyTwoFactor`). */
  async signIn(body: LoginRequest) {
    const result = await login({ client: this.plain, body });
    if (result.data && 'access_token' in result.data) await this.adopt(result.data);
    return result;
  }

  /** Finishes a sign-in paused for the second factor. */
  async verifyTwoFactor(body: TwoFactorVerifyRequest) {
    const result = await verifyTwoFactor({ client: this.plain, body });
    if (result.data) await this.adopt(result.data);
    return result;
  }

  /** Takes the tokens of any other sign-in (guest, phone, OAuth exchange, actor switch). */
  async adopt(tokens: TokenPair & { user: User }): Promise<void> {
    await this.write(toStored(tokens, tokens.user, this.clock.now().getTime()));
  }

  /** A valid access token (refreshed first when it is about to expire), or undefined when signed out. */
  async accessToken(): Promise<string | undefined> {
    return (await this.fresh())?.access_token;
  }

  /** Ends the session at Sésame (all of the user's sessions with `allDevices`) and forgets the tokens. */
  async signOut(options: { allDevices?: boolean } = {}): Promise<void> {
    let current: StoredSession | null;
    try {
      current = await this.fresh();
    } catch {
      current = await this.read();
    }
    if (!current) return;
    try {
      await logout({ client: this.plain, auth: current.access_token, body: { all_devices: options.allDevices ?? false } });
    } finally {
      await this.write(null);
    }
  }

  /** Stops listening to the storage (another tab's changes). */
  dispose(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  /**
   * The fetch behind `client`: a request carrying a bearer token that answers 401 `token_expired`
   * is retried once with a refreshed token; 401 `session_revoked` for the current token ends the
   * session here. Anything else passes through untouched.
   */
  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const sent = bearerOf(request.headers.get('authorization'));
    if (!sent) return this.send(request);
    const spare = request.clone();
    const response = await this.send(request);
    if (response.status !== 401) return response;
    const code = await problemCode(response);
    if (code === 'token_expired') {
      const current = await this.fresh(sent);
      if (!current || current.access_token === sent) return response;
      spare.headers.set('authorization', `Bearer ${current.access_token}`);
      return this.send(spare);
    }
    if (code === 'session_revoked') {
      const current = await this.read();
      if (current?.access_token === sent) await this.write(null, code);
    }
    return response;
  };

  /** The stored session, refreshed first when stale (or when `failed` is still its access token). */
  private async fresh(failed?: string): Promise<StoredSession | null> {
    const current = await this.read();
    if (!current || !this.stale(current, failed)) return current;
    this.inflight ??= this.exclusive(async () => {
      // Read again under the lock: another tab may have refreshed while this one waited.
      const latest = await this.read();
      return latest && this.stale(latest, failed) ? this.rotate(latest) : latest;
    }).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private stale(s: StoredSession, failed: string | undefined): boolean {
    const margin = Math.min(this.marginMs, (s.expires_at - s.issued_at) / 2);
    return s.access_token === failed || s.expires_at - this.clock.now().getTime() <= margin;
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.locks ? this.locks.request(`sesame-refresh:${this.key}`, () => work()) : work();
  }

  private async rotate(from: StoredSession): Promise<StoredSession | null> {
    const next = await this.refreshPair(from);
    if (!next) return null;
    const latest = await this.read();
    // Signed out, or signed in anew, while the refresh was in flight: the new pair is not wanted.
    if (!latest || latest.session_id !== from.session_id) return latest;
    await this.write(next);
    if (latest.refresh_token === from.refresh_token) return next;
    // Another context (no shared lock) refreshed the same token meanwhile: the server's grace
    // window answered both, and only one pair is the family's current one. Rotating ours once
    // more, at once, makes the stored pair current, so no later refresh presents a dead token.
    const reconciled = await this.refreshPair(next).catch(() => next);
    if (reconciled && reconciled !== next) await this.write(reconciled);
    return reconciled;
  }

  /** One refresh request; null (and the session ended) when the server refuses the refresh token. */
  private async refreshPair(from: StoredSession): Promise<StoredSession | null> {
    const result = await refreshToken({ client: this.plain, body: { refresh_token: from.refresh_token } });
    if (result.data) return toStored(result.data, from.user, this.clock.now().getTime());
    const status = result.response?.status;
    if (status !== 401 && status !== 403) throw new SessionRefreshError(status, result.error);
    const latest = await this.read();
    // Refused, but another context stored a newer pair meanwhile: keep that one.
    if (latest && latest.refresh_token !== from.refresh_token) return latest;
    const code = (result.error as Partial<Problem> | undefined)?.code;
    await this.write(null, typeof code === 'string' ? code : 'session_revoked');
    return null;
  }

  /** The stored state; a change another context made since the last look is reported. */
  private async read(): Promise<StoredSession | null> {
    const state = parseStored(await this.storage.get(this.key));
    // The very first read only loads what was there: no event.
    if (this.seen === undefined) this.seen = state;
    else this.observe(state);
    return state;
  }

  private async write(state: StoredSession | null, endedBecause?: string): Promise<void> {
    this.writing = true;
    try {
      const done = state ? this.storage.set(this.key, JSON.stringify(state)) : this.storage.remove(this.key);
      this.writing = false;
      await done;
    } finally {
      this.writing = false;
    }
    this.observe(state, endedBecause);
  }

  /** Emits the event that takes the last seen state to `state`. */
  private observe(state: StoredSession | null, endedBecause?: string): void {
    const before = this.seen ?? null;
    this.seen = state;
    let event: SessionEvent | undefined;
    if (!state) event = before ? (endedBecause ? { type: 'session_revoked', reason: endedBecause } : { type: 'signed_out' }) : undefined;
    else if (!before || before.session_id !== state.session_id) event = { type: 'signed_in', user: state.user };
    else if (before.refresh_token !== state.refresh_token) event = { type: 'refreshed', user: state.user };
    if (!event) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the session goes on.
      }
    }
  }
}

/** A session helper: see `SesameSession`. */
export function createSession(options: SessionOptions): SesameSession {
  return new SesameSession(options);
}
