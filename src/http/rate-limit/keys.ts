import { createHash } from 'node:crypto';
import { ipKeyGenerator } from 'express-rate-limit';

/**
 * What a limit counts by: the client address, the email or phone number the (validated) body
 * names, the API key of the `X-API-Key` header, the signed-in user, or the organization of the
 * path (`{org_id}`). A request that lacks the value is counted by its client address instead
 * (an `api_key` limit counts only requests an API key authenticated: see RateLimits).
 */
export type LimitKind = 'ip' | 'email' | 'phone' | 'api_key' | 'user' | 'organization';

/** The parts of a request a key is made from. */
export interface KeySource {
  ip?: string;
  body?: unknown;
  headers?: Record<string, string | string[] | undefined>;
  /** The signed-in user's id, when the request is authenticated. */
  userId?: string;
  /** The id of the API key that authenticated the request (its secrets, old and new, share it). */
  apiKeyId?: string;
  /** The route's path parameters. */
  params?: Record<string, string | string[] | undefined>;
}

/**
 * The client address as a counter key: IPv4 whole, IPv4-mapped IPv6 as its IPv4 address, other
 * IPv6 addresses grouped by their /ipv6Subnet network (one host usually holds a whole /64).
 */
export function ipKey(ip: string | undefined, ipv6Subnet: number): string {
  return ip ? ipKeyGenerator(ip, ipv6Subnet) : 'unknown';
}

function bodyString(body: unknown, field: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[field];
  return typeof value === 'string' ? value : undefined;
}

/** The normalized email of a body (trimmed, lower-case), or undefined when it names none. */
export function emailOf(body: unknown): string | undefined {
  const normalized = bodyString(body, 'email')?.trim().toLowerCase();
  return normalized === '' ? undefined : normalized;
}

/** The value a kind counts by, before hashing; undefined when the request does not carry it. */
const valueOf: Record<Exclude<LimitKind, 'ip'>, (req: KeySource) => string | undefined> = {
  email: (req) => emailOf(req.body),
  // The validated body's number; the phone feature normalises it before counting where it must.
  phone: (req) => bodyString(req.body, 'phone_number')?.replace(/[\s().-]/g, '') || undefined,
  api_key: (req) => {
    if (req.apiKeyId !== undefined) return req.apiKeyId;
    const header = req.headers?.['x-api-key'];
    return typeof header === 'string' && header !== '' ? header : undefined;
  },
  user: (req) => req.userId,
  organization: (req) => {
    const id = req.params?.org_id;
    return typeof id === 'string' ? id : undefined;
  },
};

const hashed = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * The counter key of a request. Values other than the address are hashed (no raw emails, numbers
 * or keys in the store); a request without the value is counted by its client address instead.
 */
export function limitKey(kind: LimitKind, req: KeySource, ipv6Subnet: number): string {
  const value = kind === 'ip' ? undefined : valueOf[kind](req);
  if (value !== undefined) return `${kind}:${hashed(value)}`;
  return `ip:${ipKey(req.ip, ipv6Subnet)}`;
}
