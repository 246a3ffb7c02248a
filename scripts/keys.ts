/**
 * Signing-key utility (seed 002's "certificate generation"):
 *   npm run keys -- list              the keys, which one signs, until when retired ones stay published
 *   npm run keys -- rotate            publish a new key now; it signs once JWKS caches have caught up
 *                                     (6 minutes); the previous key then stays in the JWKS until every
 *                                     token it signed has expired
 *   npm run keys -- rotate --now      emergency (leaked key): the new key signs at once
 *   npm run keys -- secret            print a fresh random KEY_ENCRYPTION_KEY value
 * Uses the same configuration as the server (DATABASE_URL or the embedded database, KEY_ENCRYPTION_KEY).
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config/config.js';
import { openInfrastructure } from '../src/infra/infrastructure.js';
import { KeyEncryption, SigningKeys } from '../src/infra/keys.js';
import { createLogger } from '../src/shared/logger.js';

const command = process.argv[2] ?? 'list';
if (command === 'secret') {
  console.log(randomBytes(32).toString('base64url'));
  process.exit(0);
}
if (!['list', 'rotate'].includes(command)) {
  console.error('usage: npm run keys -- list | rotate | secret');
  process.exit(2);
}
const config = loadConfig();
const infra = await openInfrastructure(config, createLogger('warn'));
try {
  const keys = new SigningKeys(infra.db, infra.clock, new KeyEncryption(infra.keyEncryptionSecret));
  if (command === 'rotate') {
    const longest = await infra.db('actor_types').max<{ max: number }[]>('access_token_ttl as max').first();
    const now = process.argv.includes('--now');
    const { kid, activatesAt } = await keys.rotate(Number(longest?.max ?? 1800) + 60, now ? 0 : undefined);
    console.log(`New signing key ${kid}, published now, signing from ${activatesAt.toISOString()}.`);
  } else {
    await keys.ensureActiveKey();
  }
  for (const k of await keys.list()) {
    const now = infra.clock.now();
    const state =
      k.activates_at > now
        ? `next, signs from ${k.activates_at.toISOString()}`
        : k.retired_at && k.retired_at <= now
          ? `retired, published until ${k.publish_until?.toISOString()}`
          : 'signing';
    console.log(`${k.kid}  ${k.alg}  created ${k.created_at.toISOString()}  ${state}`);
  }
} finally {
  await infra.close();
}
