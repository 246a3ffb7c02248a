/**
 * Signing-key utility (seed 002's "certificate generation"):
 *   npm run keys -- list              the keys, which one signs, until when retired ones stay published
 *   npm run keys -- rotate            a new key signs from now on; previous keys stay in the JWKS
 *                                     until every token they signed has expired
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
    const kid = await keys.rotate(Number(longest?.max ?? 1800) + 60);
    console.log(`New signing key ${kid}; previous keys stay published until their tokens expire.`);
  } else {
    await keys.ensureActiveKey();
  }
  for (const k of await keys.list()) {
    const state = k.retired_at ? `retired, published until ${k.publish_until?.toISOString()}` : 'signing';
    console.log(`${k.kid}  ${k.alg}  created ${k.created_at.toISOString()}  ${state}`);
  }
} finally {
  await infra.close();
}
