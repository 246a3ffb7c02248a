import type { TokenPair, User } from '../src/types.gen.js';

/** What a session keeps in its storage (JSON under one key). */
export interface StoredSession {
  v: 1;
  access_token: string;
  refresh_token: string;
  /** Milliseconds since the epoch on the session's clock, from `expires_in` (no clock skew with the server). */
  issued_at: number;
  expires_at: number;
  /** The access token's `sid`: tells a refresh of this session from another sign-in. */
  session_id: string;
  user: User;
}

/** The `sid` claim, read without verifying (the server verifies; this only names the session). */
function sessionIdOf(accessToken: string): string {
  try {
    const part = accessToken.split('.')[1] ?? '';
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as { sid?: unknown };
    return typeof claims.sid === 'string' ? claims.sid : '';
  } catch {
    return '';
  }
}

export function toStored(tokens: TokenPair, user: User, nowMs: number): StoredSession {
  return {
    v: 1,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    issued_at: nowMs,
    expires_at: nowMs + tokens.expires_in * 1000,
    session_id: sessionIdOf(tokens.access_token),
    user,
  };
}

/** The stored value, or null when absent or not one this version wrote. */
export function parseStored(raw: string | null): StoredSession | null {
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<StoredSession>;
    const valid =
      value.v === 1 &&
      typeof value.access_token === 'string' &&
      typeof value.refresh_token === 'string' &&
      typeof value.expires_at === 'number' &&
      typeof value.issued_at === 'number' &&
      typeof value.session_id === 'string' &&
      typeof value.user === 'object' &&
      value.user !== null;
    return valid ? (value as StoredSession) : null;
  } catch {
    return null;
  }
}
