import { hash as argon2, Algorithm } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { expect } from 'chai';
import { isVerifiableHash, PasswordHasher } from '../../src/infra/passwords.js';

describe('password hashes Sésame can verify (imports)', () => {
  const hasher = new PasswordHasher({ memoryKiB: 1024, timeCost: 1 });

  it('verifies bcrypt hashes of every variant and cost, and always asks for an argon2id rehash', async () => {
    for (const cost of [4, 5, 6]) {
      const stored = bcrypt.hashSync('Secret-1!', cost);
      for (const variant of ['$2a$', '$2b$', '$2y$']) {
        const h = stored.replace('$2b$', variant);
        expect(isVerifiableHash(h), h).to.equal(true);
        expect(await hasher.verify(h, 'Secret-1!'), h).to.equal(true);
        expect(await hasher.verify(h, 'Secret-2!'), h).to.equal(false);
        expect(hasher.needsRehash(h)).to.equal(true);
      }
    }
    expect(isVerifiableHash(`$2b$14$${'.'.repeat(21)}u${'.'.repeat(31)}`)).to.equal(true);
    // Costlier than a sign-in may spend (cost 31 would be days of work): refused at import.
    for (const cost of ['15', '31', '99']) expect(isVerifiableHash(`$2b$${cost}$${'.'.repeat(21)}u${'.'.repeat(31)}`), cost).to.equal(false);
  });

  it('accepts argon2id, argon2i and argon2d within the limits a sign-in can afford', async () => {
    for (const algorithm of [Algorithm.Argon2id, Algorithm.Argon2i, Algorithm.Argon2d]) {
      const h = await argon2('Secret-1!', { algorithm, memoryCost: 1024, timeCost: 1, parallelism: 2 });
      expect(isVerifiableHash(h), h).to.equal(true);
      expect(await hasher.verify(h, 'Secret-1!')).to.equal(true);
    }
    const salt = 'c29tZXNhbHRzYWx0';
    const digest = 'aGFzaGhhc2hoYXNoaGFzaGhhc2g';
    expect(isVerifiableHash(`$argon2id$v=19$m=262144,t=16,p=16$${salt}$${digest}`)).to.equal(true);
    for (const params of ['m=262145,t=2,p=1', 'm=19456,t=17,p=1', 'm=19456,t=2,p=17', 'm=15,t=2,p=2', 'm=19456,t=0,p=1', 'm=19456,t=2,p=0']) {
      expect(isVerifiableHash(`$argon2id$v=19$${params}$${salt}$${digest}`), params).to.equal(false);
    }
    // Padded or non-canonical base64 is no PHC string.
    expect(isVerifiableHash(`$argon2id$v=19$m=19456,t=2,p=1$${salt}==$${digest}`)).to.equal(false);
    expect(isVerifiableHash(`$argon2id$v=19$m=19456,t=2,p=1$${salt}$${digest.slice(0, -1)}h`)).to.equal(false);
  });
});
