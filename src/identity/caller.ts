/**
 * Who makes a request to an operation that also accepts API keys (the permission check, quota
 * consume and renew): a user through a session, or through one of their API keys. A key acts
 * as its owner, never beyond its own permissions (README "API keys").
 */
export interface Caller {
  userId: string;
  /** The session of an access token. */
  sessionId?: string;
  /** The organization of the credential: an access token's `org_id`, or an organization key's. */
  organizationId?: string;
  /** Set when an API key authenticates: its id and the permissions it was given. */
  apiKey?: { id: string; permissions: string[] };
}

/** A caller named by a user id alone (a session) or in full. */
export type CallerRef = string | Caller;

export function callerOf(ref: CallerRef): Caller {
  return typeof ref === 'string' ? { userId: ref } : ref;
}
