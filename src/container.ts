import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import type { Clock } from './infra/clock.js';
import { KeyEncryption, SigningKeys } from './infra/keys.js';
import { createMetrics } from './infra/metrics.js';
import { PasswordHasher } from './infra/passwords.js';
import type { FastStore } from './infra/store/store.js';
import { AccessTokens } from './infra/tokens.js';
import { AccountService } from './modules/account/account.service.js';
import { AuthService } from './modules/auth/auth.service.js';
import { captchaFromConfig } from './modules/auth/captcha.js';
import { LoginLockout } from './modules/auth/lockout.js';
import { MfaService } from './modules/mfa/mfa.service.js';
import { Sessions } from './modules/sessions/sessions.service.js';

export interface Infrastructure {
  config: Config;
  db: Knex;
  store: FastStore;
  clock: Clock;
  logger: Logger;
  /** Secret that encrypts signing keys at rest (KEY_ENCRYPTION_KEY or the dev file). */
  keyEncryptionSecret: string;
}

/** Wires the services from the infrastructure; no I/O happens here. */
export function createContainer(infra: Infrastructure) {
  const { config, db, store, clock, logger } = infra;
  const keys = new SigningKeys(db, clock, new KeyEncryption(infra.keyEncryptionSecret));
  const accessTokens = new AccessTokens(keys, clock, config.JWT_ISSUER, config.JWT_AUDIENCE);
  const hasher = new PasswordHasher({ memoryKiB: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST });
  const metrics = createMetrics(async () => {
    const rows: Array<{ role: string; count: string }> = await db('sessions')
      .whereNull('revoked_at')
      .andWhere('expires_at', '>', clock.now())
      .groupBy('actor_type')
      .select('actor_type as role', db.raw('count(*) as count'));
    return rows.map((r) => ({ role: r.role, count: Number(r.count) }));
  });
  const sessions = new Sessions(
    db,
    store,
    clock,
    accessTokens,
    { refreshGraceSeconds: config.REFRESH_GRACE_SECONDS, shortSessionSeconds: config.SHORT_SESSION_SECONDS, sessionCacheSeconds: config.SESSION_CACHE_SECONDS, appUrl: config.APP_URL },
    logger,
  );
  const lockout = new LoginLockout(db, clock, { maxFailures: config.LOCKOUT_MAX_FAILURES, durationSeconds: config.LOCKOUT_DURATION_SECONDS });
  const auth = new AuthService(
    db,
    clock,
    hasher,
    sessions,
    metrics,
    {
      appUrl: config.APP_URL,
      defaultActorType: config.DEFAULT_ACTOR_TYPE,
      revealExistingEmail: config.REGISTER_REVEAL_EXISTING,
      captchaAfterFailures: config.CAPTCHA_AFTER_FAILURES,
    },
    lockout,
    captchaFromConfig(config),
  );
  const account = new AccountService(db, clock, hasher, sessions, metrics, { appUrl: config.APP_URL });
  const mfa = new MfaService(db, clock, hasher, sessions, metrics, new KeyEncryption(infra.keyEncryptionSecret, 'sesame-totp-secrets'), {
    appUrl: config.APP_URL,
    issuer: config.TOTP_ISSUER,
  }, lockout);
  return { ...infra, keys, accessTokens, hasher, metrics, sessions, auth, account, mfa };
}

export type Container = ReturnType<typeof createContainer>;
