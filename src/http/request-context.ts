import type { Request } from 'express';
import type { RequestContext } from '../shared/request-context.js';
import { sessionTokenOf } from './authenticate.js';

/**
 * Where a request came from (the IP as `trust proxy` resolves it, the user agent), for audit
 * rows and sessions, and the impersonation it is made under (its audit rows name the actor).
 */
export function requestContext(req: Request): RequestContext {
  const act = sessionTokenOf(req)?.act;
  return act ? { ip: req.ip, userAgent: req.get('user-agent'), act } : { ip: req.ip, userAgent: req.get('user-agent') };
}
