import type { Request } from 'express';
import type { RequestContext } from '../shared/request-context.js';

/** Where a request came from (the IP as `trust proxy` resolves it, the user agent), for audit rows and sessions. */
export function requestContext(req: Request): RequestContext {
  return { ip: req.ip, userAgent: req.get('user-agent') };
}
