import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { RateLimitRule } from '../../config/config.js';
import type { FastStore } from '../../infra/store/store.js';
import { authenticatedApiKeyId, authenticatedUserId } from '../authenticate.js';
import { limitKey, type LimitKind } from './keys.js';
import { createLimiter } from './limiter.js';

/** One limit a route declares: its counter's name, its rule (null: off) and what it counts by. */
export interface LimitDeclaration {
  /** Names the counters (`login-ip`, `reset-email`…): each limit counts on its own. */
  name: string;
  rule: RateLimitRule | null;
  by: LimitKind;
  /** `failures`: only requests answered 400 or above count (successes are taken back). */
  counts?: 'all' | 'failures';
  /** Requests this says yes to are neither counted nor limited (e.g. a trusted device). */
  skip?: (req: Request) => Promise<boolean>;
}

export interface RateLimitsDeps {
  store: FastStore;
  logger: Logger;
  /** IPv6 clients in one subnet of this size share their address counters. */
  ipv6Subnet: number;
}

/**
 * Makes the limiters routes declare beside themselves (`r.post(path, ...limits.of(...), handler)`),
 * counted in the fast-path store shared by every instance. Mount the routes after the body parser
 * and the validator, so a limit by email or phone reads a checked body. A limit set to `off`
 * installs nothing.
 */
export class RateLimits {
  constructor(private readonly deps: RateLimitsDeps) {}

  of(...declarations: LimitDeclaration[]): RequestHandler[] {
    return declarations.flatMap(({ name, rule, by, counts, skip }) => {
      if (!rule) return [];
      const limiter = createLimiter({ name, rule, key: (req: Request) => limitKey(by, keySource(req), this.deps.ipv6Subnet), counts, skip }, this.deps);
      // An API-key limit counts the requests a key authenticated; a session's pass by (its own limits apply).
      const onlyKeys: RequestHandler = (req, res, next) => (authenticatedApiKeyId(req) === undefined ? next() : limiter(req, res, next));
      return [by === 'api_key' ? onlyKeys : limiter];
    });
  }
}

function keySource(req: Request): Parameters<typeof limitKey>[1] {
  return { ip: req.ip, body: req.body, headers: req.headers, userId: authenticatedUserId(req), apiKeyId: authenticatedApiKeyId(req), params: req.params };
}
