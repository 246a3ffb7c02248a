/**
 * RFC 8693 actor claim: who acts as a token's subject (an administrator impersonating the
 * user); nested when that administrator was itself under an impersonation (the outermost `sub`
 * is the latest actor).
 */
export interface ActClaim {
  sub: string;
  act?: ActClaim;
}

/** Where a request came from, as the audit log and the session list record it. */
export interface RequestContext {
  ip?: string;
  userAgent?: string;
  /** The impersonation the request is made under, if any: every audit row it writes names the actor. */
  act?: ActClaim;
}
