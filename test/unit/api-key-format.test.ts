import { expect } from 'chai';
import { crc32 } from 'node:zlib';
import { apiKeyFormat, checksumOf, hasValidChecksum, newApiKeySecret } from '../../src/modules/api-keys/key-format.js';

describe('the API key format (prefix + 36 random base62 + a 6-character CRC32 checksum)', () => {
  it('makes keys of the format with a checksum that holds, different every time', () => {
    const keys = Array.from({ length: 50 }, () => newApiKeySecret('czo_'));
    for (const { secret, lastFour } of keys) {
      expect(secret).to.match(/^czo_[0-9A-Za-z]{42}$/).and.match(apiKeyFormat);
      expect(hasValidChecksum(secret)).to.equal(true);
      expect(lastFour).to.equal(secret.slice(-4));
    }
    expect(new Set(keys.map((k) => k.secret)).size).to.equal(50);
  });

  it('the checksum is the CRC32 of prefix and random part in base62, padded to 6 (what a scanner recomputes)', () => {
    const body = `czo_${'0123456789abcdefghijABCDEFGHIJklmnop'}`;
    const base62 = (n: number) => {
      const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
      let s = '';
      for (; n > 0; n = Math.floor(n / 62)) s = alphabet[n % 62] + s;
      return s.padStart(6, '0');
    };
    expect(checksumOf(body)).to.equal(base62(crc32(body)));
    expect(hasValidChecksum(body + checksumOf(body))).to.equal(true);
  });

  it('tells noise from a key: a changed character, a wrong length, another alphabet fail', () => {
    const { secret } = newApiKeySecret('acme_');
    const changed = secret.slice(0, 8) + (secret[8] === 'x' ? 'y' : 'x') + secret.slice(9);
    for (const noise of [changed, secret.slice(0, -1), `${secret}0`, secret.replace(/^acme_/, 'ACME_'), 'czo_' + '-'.repeat(42)]) expect(hasValidChecksum(noise), noise).to.equal(false);
    expect(hasValidChecksum(secret)).to.equal(true);
  });
});
