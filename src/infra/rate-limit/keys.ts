import { createHash } from 'node:crypto';
import { ipKeyGenerator } from 'express-rate-limit';

/** What a limit counts by: the client address, or the email the request names. */
export type LimitKind = 'ip' | 'email';

/** The parts of a request a key is made from. */
export interface KeySource {
  ip?: string;
  body?: unknown;
}

/**
 * The client address as a counter key: IPv4 whole, IPv4-mapped IPv6 as its IPv4 address, other
 * IPv6 addresses grouped by their /ipv6Subnet network (one host usually holds a whole /64).
 */
export function ipKey(ip: string | undefined, ipv6Subnet: number): string {
  return ip ? ipKeyGenerator(ip, ipv6Subnet) : 'unknown';
}

/** The normalized email of a body (trimmed, lower-case), or undefined when it names none. */
export function emailOf(body: unknown): string | undefined {
  const email = (body as { email?: unknown } | undefined)?.email;
  if (typeof email !== 'string') return undefined;
  const normalized = email.trim().toLowerCase();
  return normalized === '' ? undefined : normalized;
}

/**
 * The counter key of a request. By email the address is hashed (no raw addresses in the
 * store); a request without a usable email is counted by its client address instead.
 */
export function limitKey(kind: LimitKind, req: KeySource, ipv6Subnet: number): string {
  const email = kind === 'email' ? emailOf(req.body) : undefined;
  if (email) return `email:${createHash('sha256').update(email).digest('base64url')}`;
  return `ip:${ipKey(req.ip, ipv6Subnet)}`;
}
