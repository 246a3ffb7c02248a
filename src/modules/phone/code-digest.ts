import { createHash, createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/** A new code: 6 random digits (uniform, from the CSPRNG). */
export function newCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/**
 * Keyed digests of SMS codes. A 6-digit code has a million values: any unkeyed hash (bcrypt
 * included) of one is found offline in moments, so the stored digest is an HMAC whose key is
 * derived from the key-encryption secret and never stored: a copy of the database alone does not
 * reveal a code. The verification id is bound in, so a digest is worthless for any other one.
 */
export class CodeDigest {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHash('sha256').update(`sesame-phone-codes:${secret}`).digest();
  }

  of(verificationId: string, code: string): string {
    return createHmac('sha256', this.key).update(`${verificationId}:${code}`).digest('hex');
  }

  matches(verificationId: string, code: string, digest: string): boolean {
    const expected = Buffer.from(this.of(verificationId, code), 'hex');
    const stored = Buffer.from(digest, 'hex');
    return stored.length === expected.length && timingSafeEqual(stored, expected);
  }
}
