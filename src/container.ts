import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { accessTokenResolver, apiKeyScheme, bearerScheme, type CredentialScheme } from './http/authenticate.js';
import { RateLimits } from './http/rate-limit/rate-limits.js';
import { Sessions } from './identity/sessions/sessions.js';
import { SignInPipeline } from './identity/sign-in.js';
import { sessionsEndOnSuspension, type SuspensionHook } from './identity/suspension.js';
import type { Clock } from './infra/clock.js';
import { KeyEncryption, SigningKeys } from './infra/keys.js';
import { createMetrics } from './infra/metrics.js';
import { PasswordHasher } from './infra/passwords.js';
import type { FastStore } from './infra/store/store.js';
import { AccessTokens } from './infra/tokens.js';
import { AccountService } from './modules/account/account.service.js';
import { AdminOrganizations } from './modules/admin/admin-organizations.service.js';
import { AdminUsers } from './modules/admin/admin-users.service.js';
import { AuditLogs } from './modules/admin/audit-logs.service.js';
import { Impersonations } from './modules/admin/impersonation.service.js';
import { UserImport } from './modules/admin/user-import.js';
import { apiKeyResolver } from './modules/api-keys/api-key-credential.js';
import { ApiKeysService } from './modules/api-keys/api-keys.service.js';
import { ApiKeyUsage } from './modules/api-keys/key-usage.js';
import { apiKeysEndOnSuspension } from './modules/api-keys/suspension-hook.js';
import { ActorTypePolicies } from './modules/actor-types/actor-type-policies.js';
import { ActorSwitch } from './modules/actor-types/switch-actor.js';
import { DevicesService } from './modules/devices/devices.service.js';
import { VerifiedTokenCache } from './modules/gateway/verified-token-cache.js';
import { MfaChallengeGate } from './modules/mfa/mfa-challenges.js';
import { MfaService } from './modules/mfa/mfa.service.js';
import { InvitationsService } from './modules/organizations/invitations.service.js';
import { OrganizationsService } from './modules/organizations/organizations.service.js';
import { mfaSetupResolver } from './modules/mfa/setup-credential.js';
import { captchaFromConfig } from './modules/password/captcha.js';
import { LoginLockout } from './modules/password/lockout.js';
import { lockoutReset, PasswordLogin } from './modules/password/password-login.js';
import { Registration } from './modules/password/registration.js';
import { ExternalSignIn } from './modules/oauth/external-sign-in.js';
import { Identities } from './modules/oauth/identities.service.js';
import { providersFromConfig } from './modules/oauth/provider-registry.js';
import { CodeDigest } from './modules/phone/code-digest.js';
import { PhoneSignIn } from './modules/phone/phone-sign-in.js';
import { PhoneVerifications } from './modules/phone/phone-verification.js';
import { SmsBudget } from './modules/phone/sms-budget.js';
import { qrPollScheme } from './modules/qr/poll-credential.js';
import { QrLogin } from './modules/qr/qr-login.js';
import { QuotasService } from './modules/quotas/quotas.service.js';
import { RbacCatalogue } from './modules/rbac/catalogue.service.js';
import { RoleGrants } from './modules/rbac/grants.service.js';
import { PermissionChecks } from './modules/rbac/permission-check.js';
import { GuestsService } from './modules/users/guests.service.js';
import { UsersService } from './modules/users/users.service.js';

export interface Infrastructure {
  config: Config;
  db: Knex;
  store: FastStore;
  clock: Clock;
  logger: Logger;
  /** Secret that encrypts signing keys at rest (KEY_ENCRYPTION_KEY or the dev file). */
  keyEncryptionSecret: string;
}

/**
 * The composition root: builds every service from the infrastructure, once, with named
 * dependencies; no I/O happens here. The key-encryption secret stays inside: what is returned
 * holds the services (SigningKeys decrypts keys itself), never the secret.
 */
export function createContainer(infra: Infrastructure) {
  const { config, db, store, clock, logger } = infra;
  const keys = new SigningKeys(db, clock, new KeyEncryption(infra.keyEncryptionSecret));
  const totpSecrets = new KeyEncryption(infra.keyEncryptionSecret, 'sesame-totp-secrets');
  const accessTokens = new AccessTokens(keys, clock, config.JWT_ISSUER, config.JWT_AUDIENCE);
  const hasher = new PasswordHasher({ memoryKiB: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST });
  const sessions = new Sessions({
    db,
    store,
    clock,
    tokens: accessTokens,
    settings: { refreshGraceSeconds: config.REFRESH_GRACE_SECONDS, shortSessionSeconds: config.SHORT_SESSION_SECONDS, sessionCacheSeconds: config.SESSION_CACHE_SECONDS, appUrl: config.APP_URL },
    logger,
  });
  const metrics = createMetrics(() => sessions.liveCounts());
  const limits = new RateLimits({ store, logger, ipv6Subnet: config.RATE_LIMIT_IPV6_SUBNET });
  const lockout = new LoginLockout(db, clock, { maxFailures: config.LOCKOUT_MAX_FAILURES, durationSeconds: config.LOCKOUT_DURATION_SECONDS });
  const signIn = new SignInPipeline({ db, clock, sessions, secondFactor: new MfaChallengeGate({ db, clock }), observers: [lockoutReset(lockout)] });

  const registration = new Registration({
    db,
    clock,
    hasher,
    metrics,
    settings: { appUrl: config.APP_URL, defaultActorType: config.DEFAULT_ACTOR_TYPE, revealExistingEmail: config.REGISTER_REVEAL_EXISTING },
  });
  const passwordLogin = new PasswordLogin({
    db,
    clock,
    hasher,
    metrics,
    lockout,
    signIn,
    captcha: captchaFromConfig(config),
    settings: { appUrl: config.APP_URL, captchaAfterFailures: config.CAPTCHA_AFTER_FAILURES },
  });
  const mfa = new MfaService({ db, clock, hasher, metrics, secrets: totpSecrets, signIn, settings: { appUrl: config.APP_URL, issuer: config.TOTP_ISSUER } });
  const account = new AccountService({ db, clock, hasher, sessions, metrics, settings: { appUrl: config.APP_URL } });
  const users = new UsersService({ db, clock, sessions });
  const guests = new GuestsService({ db, clock, hasher, sessions, signIn, settings: { appUrl: config.APP_URL, defaultActorType: config.DEFAULT_ACTOR_TYPE } });
  /** What a suspension ends, in its transaction (README "Administration"); each credential kind adds its hook here. */
  const suspensionHooks: SuspensionHook[] = [sessionsEndOnSuspension(sessions), apiKeysEndOnSuspension(clock)];
  const adminUsers = new AdminUsers({ db, clock, sessions, suspensionHooks });
  const userImport = new UserImport({ db, clock, settings: { defaultActorType: config.DEFAULT_ACTOR_TYPE } });
  const impersonations = new Impersonations({ db, clock, sessions, signIn });
  const auditLogs = new AuditLogs({ db, clock });
  const adminOrganizations = new AdminOrganizations({ db, clock });
  const actorTypes = new ActorTypePolicies({ db, clock });
  const actorSwitch = new ActorSwitch({ db, clock, sessions, signIn });
  const quotas = new QuotasService({ db, clock });
  const rbacCatalogue = new RbacCatalogue({ db, clock });
  const roleGrants = new RoleGrants({ db, clock });
  const permissionChecks = new PermissionChecks({ db, clock });
  const verifiedTokens = new VerifiedTokenCache(accessTokens, keys, clock);
  const externalSignIn = new ExternalSignIn({
    db,
    clock,
    store,
    logger,
    signIn,
    providers: providersFromConfig(config.oauth, config.PUBLIC_URL),
    settings: { publicUrl: config.PUBLIC_URL, redirectUrls: config.oauth.redirectUrls, defaultActorType: config.DEFAULT_ACTOR_TYPE },
  });
  const identities = new Identities({ db, clock, externalSignIn });
  const phoneVerifications = new PhoneVerifications({
    db,
    clock,
    digest: new CodeDigest(infra.keyEncryptionSecret),
    budget: new SmsBudget({ default: config.SMS_COUNTRY_BUDGET, byCountry: config.SMS_COUNTRY_BUDGETS }),
    metrics,
  });
  const phoneSignIn = new PhoneSignIn({ db, clock, verifications: phoneVerifications, signIn, metrics, settings: { defaultActorType: config.DEFAULT_ACTOR_TYPE } });
  const devices = new DevicesService({ db, clock, sessions });
  const qr = new QrLogin({ db, clock, sessions, signIn, metrics });

  const organizations = new OrganizationsService({ db, clock });
  const invitations = new InvitationsService({ db, clock, settings: { appUrl: config.APP_URL } });
  const apiKeyUsage = new ApiKeyUsage({ db, logger, flushSeconds: config.API_KEY_USAGE_FLUSH_SECONDS });
  const apiKeys = new ApiKeysService({ db, clock, settings: { prefix: config.API_KEY_PREFIX } });
  const apiKeyCredentials = apiKeyScheme([apiKeyResolver({ db, clock, usage: apiKeyUsage })]);

  /** The spec's security schemes and the credential resolvers behind them, by declared format. */
  const credentialSchemes: CredentialScheme[] = [bearerScheme([accessTokenResolver({ tokens: accessTokens, sessions }), mfaSetupResolver({ db, clock })]), qrPollScheme(qr), apiKeyCredentials];

  return {
    config,
    db,
    store,
    clock,
    logger,
    keys,
    accessTokens,
    hasher,
    metrics,
    limits,
    credentialSchemes,
    sessions,
    signIn,
    lockout,
    registration,
    passwordLogin,
    mfa,
    account,
    users,
    guests,
    actorTypes,
    actorSwitch,
    quotas,
    rbacCatalogue,
    roleGrants,
    permissionChecks,
    verifiedTokens,
    externalSignIn,
    identities,
    phoneVerifications,
    phoneSignIn,
    devices,
    qr,
    organizations,
    invitations,
    apiKeyUsage,
    apiKeys,
    apiKeyCredentials,
    adminUsers,
    userImport,
    impersonations,
    auditLogs,
    adminOrganizations,
  };
}

export type Container = ReturnType<typeof createContainer>;
