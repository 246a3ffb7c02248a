import type { Request, RequestHandler, Response } from 'express';
import { rateLimit, type Store } from 'express-rate-limit';
import type { Logger } from 'pino';
import type { RateLimitRule } from '../../config/config.js';
import { AppError } from '../../shared/errors.js';
import { sendProblem } from '../../shared/problem.js';
import { RedisStore } from '../../infra/store/redis-store.js';
import type { FastStore } from '../../infra/store/store.js';
import { FastStoreLimitStore } from '../../infra/rate-limit/fast-store-limit-store.js';
import { RedisLimitStore } from '../../infra/rate-limit/redis-limit-store.js';

export interface LimiterSpec {
  /** Names the counters (`login-ip`, `reset-email`...): each limit counts on its own. */
  name: string;
  rule: RateLimitRule;
  key: (req: Request) => string;
  /** `failures`: a request answered below 400 is taken back once answered (only failures count). */
  counts?: 'all' | 'failures';
  /** Requests this says yes to are neither counted nor limited. */
  skip?: (req: Request) => Promise<boolean>;
}

const headerNames = ['RateLimit-Policy', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] as const;

/** The counters of one limit, shared by every instance: in Redis, or on the FastStore without it. */
function counterStore(store: FastStore, name: string): Store {
  const prefix = `rl:${name}:`;
  return store instanceof RedisStore ? new RedisLimitStore(store, store.prefix + prefix) : new FastStoreLimitStore(store, prefix);
}

/** Over the limit: 429 problem+json `rate_limited`; the RateLimit-* headers are already set. */
function refuse(name: string) {
  return (req: Request, res: Response) => {
    const seconds = Math.max(1, Number(res.getHeader('Retry-After')) || 1);
    req.log?.info({ limit: name }, 'rate limit reached');
    sendProblem(req, res, new AppError('rate_limited', { detail: `Too many requests; retry in ${seconds} seconds.`, headers: { 'Retry-After': String(seconds) } }));
  };
}

/** A store error or misconfiguration is a warning: the request goes on (fail open). */
function warnings(logger: Logger, name: string) {
  // Only the message: a Redis error can carry the command, and the key names the client.
  const log = (err: unknown, message?: string) => logger.warn({ limit: name, error: err instanceof Error ? err.message : String(err) }, message ?? 'rate limiter warning');
  return { error: log, warn: log };
}

/** With two limits on a route, the RateLimit-* headers describe the one closest to tripping. */
function keepStricterHeaders(limiter: RequestHandler): RequestHandler {
  return (req, res, next) => {
    const before = headerNames.map((h) => res.getHeader(h));
    void limiter(req, res, (err?: unknown) => {
      const remaining = Number(res.getHeader('RateLimit-Remaining'));
      if (before[2] !== undefined && Number(before[2]) < remaining) headerNames.forEach((h, i) => res.setHeader(h, before[i]!));
      next(err);
    });
  };
}

/** One limit (IETF draft-6 headers, every request counted unless `counts: 'failures'`, failing open when its store fails). */
export function createLimiter(spec: LimiterSpec, deps: { store: FastStore; logger: Logger }): RequestHandler {
  const limiter = rateLimit({
    windowMs: spec.rule.windowMs,
    limit: spec.rule.limit,
    standardHeaders: 'draft-6',
    legacyHeaders: false,
    keyGenerator: spec.key,
    store: counterStore(deps.store, spec.name),
    skipSuccessfulRequests: spec.counts === 'failures',
    ...(spec.skip ? { skip: spec.skip } : {}),
    handler: refuse(spec.name),
    passOnStoreError: true,
    logger: warnings(deps.logger, spec.name),
  });
  return keepStricterHeaders(limiter);
}
