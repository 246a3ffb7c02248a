/**
 * Runs the Postman collection with Newman against a real server started in-process on a free
 * port (test PostgreSQL and Redis, as the mocha suites use). Exits 1 on any failed assertion.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { actorTypesRepo } from '../src/identity/actor-types.repo.js';
import { createDb, migrateAndSeed } from '../src/infra/db.js';
import { systemClock } from '../src/infra/clock.js';
import { RedisStore } from '../src/infra/store/redis-store.js';
import { PasswordHasher } from '../src/infra/passwords.js';
import { createAdmin } from '../src/modules/users/create-admin.js';
import { startServer } from '../src/server.js';
import { TestBrowser } from '../test/helpers/browser.js';
import { ensureTestDatabase, testConfig, testRedisUrl } from '../test/helpers/env.js';
import { startTestOidcProvider } from '../test/helpers/oidc-provider.js';
import { runNewman } from './run-newman.js';

await ensureTestDatabase();
// The OAuth flow's OpenID Connect provider (a real oidc-provider, `local`), and its login driver:
// given the authorization URL Sésame redirected to, it plays the browser at the provider (login,
// cookies, redirects) and answers where the provider sends the browser back (Sésame's callback).
const publicUrl = 'http://sesame.test';
const localCallback = `${publicUrl}/api/v1/auth/oauth/local/callback`;
const clientSecret = `newman-${randomBytes(12).toString('hex')}`;
const provider = await startTestOidcProvider([{ client_id: 'newman-client', client_secret: clientSecret, redirect_uris: [localCallback] }]);
const driver = createServer((req, res) => {
  const q = new URL(req.url ?? '/', 'http://driver.invalid').searchParams;
  const login = q.get('login') ?? 'newman';
  provider.accounts.set(login, { email: `${login}@example.com`, email_verified: true, given_name: 'Newman', family_name: 'OIDC' });
  new TestBrowser()
    .follow(q.get('url') ?? '', { stopAt: localCallback, login })
    .then((end) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ callback: end.stoppedAt ?? null })))
    .catch((err: unknown) => res.writeHead(500).end(String(err)));
});
await new Promise<void>((resolve) => driver.listen(0, '127.0.0.1', resolve));
const oidcDriver = `http://127.0.0.1:${(driver.address() as AddressInfo).port}/drive`;
const config = testConfig({
  LOG_LEVEL: 'warn',
  PUBLIC_URL: publicUrl,
  OAUTH_REDIRECT_URLS: 'http://app.sesame.test/auth/callback',
  OIDC_LOCAL_ISSUER: provider.issuer,
  OIDC_LOCAL_CLIENT_ID: 'newman-client',
  OIDC_LOCAL_CLIENT_SECRET: clientSecret,
  OIDC_LOCAL_NAME: 'Local OpenID Connect provider',
});
const db = createDb(config.DATABASE_URL!, 5);
await migrateAndSeed(db);
// The OAuth flow signs up as this actor type (self-signup, the local provider allowed).
await actorTypesRepo.upsert(
  db,
  'newman-oidc',
  { description: 'Newman OAuth flow', allowed_methods: ['password', 'oidc:local'], self_signup: true, require_2fa: false, access_token_ttl: 1800, session_duration: 604800, allow_impersonation: false, priority: 5 },
  systemClock.now(),
);
// The admin flow's administrator: a fresh one per run, holding the admin role as an agent (the
// admin actor type requires 2FA, which the two-factor flow covers on its own).
const admin = { email: `newman-admin-${Date.now().toString(36)}@example.com`, password: `${randomBytes(18).toString('base64url')}-Aa1!` };
await createAdmin(db, systemClock, new PasswordHasher({ memoryKiB: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST }), { ...admin, actorType: 'agent' });
const store = await RedisStore.connect(testRedisUrl, 'sesame-newman:');
const running = await startServer(
  { config, db, store, clock: systemClock, logger: pino({ level: config.LOG_LEVEL }), keyEncryptionSecret: config.KEY_ENCRYPTION_KEY! },
  { host: '127.0.0.1', port: 0 },
);
let failures = 1;
try {
  ({ failures } = await runNewman(running.url, { admin, variables: { oidc_driver: oidcDriver } }));
} finally {
  driver.close();
  await provider.close();
  await running.close();
  await store.close();
  await db.destroy();
}
console.log(failures === 0 ? 'Newman: all assertions passed' : `Newman: ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
