import type { Request } from 'express';
import type { RequestContext } from './audit.js';

/** Where a request came from (the IP as `trust proxy` resolves it, the user agent), for audit rows. */
export function requestContext(req: Request): RequestContext {
  return { ip: req.ip, userAgent: req.get('user-agent') };
}
