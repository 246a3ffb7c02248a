import { randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { hashOpaqueToken } from '../../infra/tokens.js';

const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const randomLength = 36; // 36 base62 characters: over 214 bits
const checksumLength = 6; // a CRC32 fits in 6 base62 characters

/**
 * The format of a Sésame API key (README "API keys"): a prefix (`API_KEY_PREFIX`, lower-case,
 * ending with `_`), 36 random base62 characters, then the CRC32 of what precedes, in base62
 * on 6 characters. A secret scanner tells a real key from noise offline with hasValidChecksum,
 * as GitHub's token format allows. Any prefix is accepted, so changing the setting keeps old keys.
 */
export const apiKeyFormat = /^[a-z][a-z0-9]{0,14}_[0-9A-Za-z]{42}$/;

function base62(value: number, width: number): string {
  let out = '';
  for (let n = value; n > 0; n = Math.floor(n / 62)) out = alphabet[n % 62] + out;
  return out.padStart(width, '0');
}

export function checksumOf(body: string): string {
  return base62(crc32(body), checksumLength);
}

/** Whether `secret` has the format and its checksum is right (no database involved). */
export function hasValidChecksum(secret: string): boolean {
  return apiKeyFormat.test(secret) && checksumOf(secret.slice(0, -checksumLength)) === secret.slice(-checksumLength);
}

export interface NewApiKeySecret {
  secret: string;
  /** SHA-256 of the secret, hex: what is stored and looked up. */
  hash: string;
  lastFour: string;
}

export function newApiKeySecret(prefix: string): NewApiKeySecret {
  let random = '';
  for (let i = 0; i < randomLength; i++) random += alphabet[randomInt(alphabet.length)];
  const body = prefix + random;
  const secret = body + checksumOf(body);
  return { secret, hash: hashApiKey(secret), lastFour: secret.slice(-4) };
}

export function hashApiKey(secret: string): string {
  return hashOpaqueToken(secret);
}
