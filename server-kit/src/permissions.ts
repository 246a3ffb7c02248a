import type { SesameAuth } from './verifier.js';

/**
 * Whether a granted permission covers a required one: each `service:action:resource` part is
 * equal, or `*` in the granted one (Sésame's rule; a `*` in the required one is literal).
 */
export function permissionMatches(granted: string, required: string): boolean {
  const g = granted.split(':');
  const r = required.split(':');
  if (g.length !== 3 || r.length !== 3) return false;
  return g.every((part, i) => part === '*' || part === r[i]);
}

/** Whether the caller's token grants `required` (as of the token's issue: see README "Protect your own API"). */
export function hasPermission(auth: Pick<SesameAuth, 'permissions'> | undefined, required: string): boolean {
  return Boolean(auth?.permissions.some((granted) => permissionMatches(granted, required)));
}
