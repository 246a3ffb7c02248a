/** Where a request came from, as the audit log and the session list record it. */
export interface RequestContext {
  ip?: string;
  userAgent?: string;
}
