import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Container } from './container.js';
import { openApiValidator } from './http/openapi-validator.js';
import { impersonationTrail } from './http/impersonation-trail.js';
import { assignRequestId } from './http/request-id.js';
import { accountRoutes } from './modules/account/account.routes.js';
import { adminRoutes, importPath } from './modules/admin/admin.routes.js';
import { apiKeysRoutes } from './modules/api-keys/api-keys.routes.js';
import { actorTypesRoutes } from './modules/actor-types/actor-types.routes.js';
import { securityEventsRoutes } from './modules/audit/security-events.routes.js';
import { devOutboxRoutes } from './modules/dev/dev-outbox.routes.js';
import { devicesRoutes } from './modules/devices/devices.routes.js';
import { verifyRoutes } from './modules/gateway/verify.routes.js';
import { mfaRoutes } from './modules/mfa/mfa.routes.js';
import { oauthRoutes } from './modules/oauth/oauth.routes.js';
import { organizationsRoutes } from './modules/organizations/organizations.routes.js';
import { jwksRoute, opsRoutes } from './modules/ops/ops.routes.js';
import { passwordRoutes } from './modules/password/password.routes.js';
import { phoneRoutes } from './modules/phone/phone.routes.js';
import { qrRoutes } from './modules/qr/qr.routes.js';
import { quotasRoutes } from './modules/quotas/quotas.routes.js';
import { rbacRoutes } from './modules/rbac/rbac.routes.js';
import { sessionsRoutes } from './modules/sessions/sessions.routes.js';
import { usersRoutes } from './modules/users/users.routes.js';
import { problemHandler } from './shared/problem.js';
import { loadSpec } from './shared/spec.js';

/** The channels the dev outbox shows: none in production, and not one a provider delivers. */
export function devOutboxChannels(c: Pick<Container, 'config'>): Array<'email' | 'sms'> {
  if (c.config.NODE_ENV === 'production') return [];
  return [...(c.config.SMTP_URL ? [] : (['email'] as const)), ...(c.config.SMS_PROVIDER === 'dev' ? (['sms'] as const) : [])];
}

/** Whether the dev outbox exists: never in production, and not when providers deliver every channel. */
export function devOutboxEnabled(c: Pick<Container, 'config'>): boolean {
  return devOutboxChannels(c).length > 0;
}

/**
 * The origins allowed to call from a browser: CORS_ORIGINS, plus the frontend's own origin
 * (APP_URL) outside production, so `npm start` and a dev server on the default APP_URL work together.
 */
export function corsOrigins(config: Pick<Container['config'], 'CORS_ORIGINS' | 'APP_URL' | 'NODE_ENV'>): string[] {
  const origins = new Set(config.CORS_ORIGINS);
  if (config.NODE_ENV !== 'production') origins.add(new URL(config.APP_URL).origin);
  return [...origins];
}

/**
 * Builds the Express app from the composition root's services; listening is the caller's
 * business. The order matters: the gateway check first (it runs on every proxied request), then
 * request id and access log, metrics, security headers, CORS, the operational routes, the body
 * parser, the OpenAPI validator (which authenticates through the credential resolvers), the API
 * routes (each given only what it uses, with its rate limits beside it), the problem handler.
 */
export function buildApp(c: Container): Express {
  const { config, logger, metrics, limits } = c;
  const devRoutes = devOutboxEnabled(c);
  const spec = loadSpec({ devRoutes });
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(
    verifyRoutes({
      signatures: c.verifiedTokens,
      sessions: c.sessions,
      metrics,
      bodyLimit: config.BODY_LIMIT,
      apiKeys: { scheme: c.apiKeyCredentials, limit: limits.of({ name: 'api-key', rule: config.RATE_LIMIT_API_KEY, by: 'api_key' }) },
    }),
  );

  app.use(
    pinoHttp({
      logger,
      genReqId: assignRequestId,
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
      origin: config.CORS_ORIGINS.includes('*') ? true : corsOrigins(config),
      credentials: !config.CORS_ORIGINS.includes('*'),
      exposedHeaders: ['X-Request-Id', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
      maxAge: 600,
    }),
  );
  app.use(opsRoutes({ db: c.db, store: c.store, metrics, spec }));
  // Every API answer is about one caller, and many carry secrets (tokens, TOTP secrets, backup
  // codes, MFA tokens): no cache may keep any of them (RFC 6749 §5.1, RFC 9111).
  app.use('/api', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  // Up to 1,000 users in one import: that route's own, larger limit (a parsed body is not parsed again).
  app.use(importPath, express.json({ limit: config.IMPORT_BODY_LIMIT }));
  app.use(express.json({ limit: config.BODY_LIMIT }));
  app.use(openApiValidator({ credentialSchemes: c.credentialSchemes, logger, validateResponses: config.VALIDATE_RESPONSES }, spec, app));
  // Before every route: each request under an impersonation is in the audit log first.
  app.use(impersonationTrail({ db: c.db, clock: c.clock }));
  app.use(jwksRoute(c.keys));
  app.use(
    passwordRoutes({
      registration: c.registration,
      login: c.passwordLogin,
      limits,
      rules: { loginIp: config.RATE_LIMIT_LOGIN_IP, loginEmail: config.RATE_LIMIT_LOGIN_EMAIL, registerIp: config.RATE_LIMIT_REGISTER_IP },
    }),
  );
  app.use(mfaRoutes({ mfa: c.mfa }));
  app.use(sessionsRoutes({ sessions: c.sessions, metrics }));
  app.use(accountRoutes({ account: c.account, limits, rules: { resetEmail: config.RATE_LIMIT_PASSWORD_RESET_EMAIL, resendEmail: config.RATE_LIMIT_VERIFICATION_RESEND_EMAIL } }));
  app.use(securityEventsRoutes({ db: c.db }));
  app.use(actorTypesRoutes({ policies: c.actorTypes, switcher: c.actorSwitch }));
  app.use(usersRoutes({ users: c.users, guests: c.guests, limits, rules: { guestIp: config.RATE_LIMIT_GUEST_IP } }));
  app.use(quotasRoutes({ quotas: c.quotas, limits, rules: { apiKey: config.RATE_LIMIT_API_KEY } }));
  app.use(rbacRoutes({ catalogue: c.rbacCatalogue, grants: c.roleGrants, permissions: c.permissionChecks, limits, rules: { apiKey: config.RATE_LIMIT_API_KEY } }));
  app.use(
    organizationsRoutes({
      organizations: c.organizations,
      invitations: c.invitations,
      sessions: c.sessions,
      limits,
      rules: { invitationsOrg: config.RATE_LIMIT_INVITATIONS_ORG, invitationsUser: config.RATE_LIMIT_INVITATIONS_USER },
    }),
  );
  app.use(apiKeysRoutes({ apiKeys: c.apiKeys }));
  app.use(adminRoutes({ users: c.adminUsers, importer: c.userImport, impersonations: c.impersonations, auditLogs: c.auditLogs, organizations: c.adminOrganizations, logger }));
  app.use(
    oauthRoutes({
      externalSignIn: c.externalSignIn,
      identities: c.identities,
      limits,
      rules: { oauthIp: config.RATE_LIMIT_OAUTH_IP },
      secureCookie: config.NODE_ENV === 'production' || config.PUBLIC_URL.startsWith('https:'),
    }),
  );
  app.use(
    phoneRoutes({
      verifications: c.phoneVerifications,
      phoneSignIn: c.phoneSignIn,
      limits,
      rules: { smsPhone: config.RATE_LIMIT_SMS_PHONE, smsIp: config.RATE_LIMIT_SMS_IP },
      allowedCountries: config.SMS_ALLOWED_COUNTRIES,
      smsDelivery: config.SMS_PROVIDER !== 'dev' || config.NODE_ENV !== 'production',
    }),
  );
  app.use(devicesRoutes({ devices: c.devices }));
  app.use(qrRoutes({ qr: c.qr, limits, rules: { qrIp: config.RATE_LIMIT_QR_IP } }));
  if (devRoutes) app.use(devOutboxRoutes({ db: c.db, channels: devOutboxChannels(c) }));
  app.use(problemHandler(logger));
  return app;
}
