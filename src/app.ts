import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Container } from './container.js';
import { openApiValidator } from './http/openapi-validator.js';
import { authRateLimits } from './infra/rate-limit/auth-rate-limits.js';
import { accountRoutes } from './modules/account/account.routes.js';
import { actorTypesRoutes } from './modules/actor-types/actor-types.routes.js';
import { securityEventsRoutes } from './modules/audit/security-events.routes.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import { devOutboxRoutes } from './modules/dev/dev-outbox.routes.js';
import { verifyRoutes } from './modules/gateway/verify.routes.js';
import { mfaRoutes } from './modules/mfa/mfa.routes.js';
import { quotasRoutes } from './modules/quotas/quotas.routes.js';
import { rbacRoutes } from './modules/rbac/rbac.routes.js';
import { sessionsRoutes } from './modules/sessions/sessions.routes.js';
import { usersRoutes } from './modules/users/users.routes.js';
import { jwksRoute, opsRoutes } from './modules/ops/ops.routes.js';
import { problemHandler } from './shared/problem.js';
import { loadSpec } from './shared/spec.js';

const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/** Whether the dev outbox exists: never in production, and not when a mail provider delivers. */
export function devOutboxEnabled(c: Container): boolean {
  return c.config.NODE_ENV !== 'production' && !c.config.SMTP_URL;
}

/** Builds the Express app from its dependencies; listening is the caller's business. */
export function buildApp(c: Container): Express {
  const { config, logger, metrics } = c;
  const devRoutes = devOutboxEnabled(c);
  const spec = loadSpec({ devRoutes });
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(verifyRoutes(c));

  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url.split('?')[0] }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }), // not every header on every line
      },
    }),
  );
  app.use((req, res, next) => {
    const end = metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      const route = (req as { openapi?: { openApiRoute?: string } }).openapi?.openApiRoute ?? (req.route?.path as string | undefined) ?? 'unmatched';
      end({ route, status: String(res.statusCode) });
    });
    next();
  });
  app.use(
    helmet({
      contentSecurityPolicy: { directives: { 'img-src': ["'self'", 'data:'] } },
    }),
  );
  app.use(
    cors({
      origin: config.CORS_ORIGINS.includes('*') ? true : config.CORS_ORIGINS,
      credentials: !config.CORS_ORIGINS.includes('*'),
      exposedHeaders: ['X-Request-Id', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
      maxAge: 600,
    }),
  );
  app.use(opsRoutes({ db: c.db, store: c.store, metrics, spec }));

  app.use(express.json({ limit: config.BODY_LIMIT }));
  app.use(openApiValidator(c, spec, app));
  app.use(jwksRoute(c.keys));
  app.use(authRateLimits(c));
  app.use(authRoutes(c.auth));
  app.use(mfaRoutes(c.mfa));
  app.use(sessionsRoutes(c.sessions, c.metrics));
  app.use(accountRoutes(c.account));
  app.use(securityEventsRoutes(c.db));
  app.use(actorTypesRoutes(c));
  app.use(usersRoutes(c));
  app.use(quotasRoutes(c));
  app.use(rbacRoutes(c));
  if (devRoutes) app.use(devOutboxRoutes(c.db));
  app.use(problemHandler(logger));
  return app;
}
