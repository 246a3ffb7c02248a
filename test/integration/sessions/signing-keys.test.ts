import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { decodeProtectedHeader, exportJWK, importPKCS8 } from 'jose';
import { ManualClock } from '../../../src/infra/clock.js';
import { createDb, migrateAndSeed, type Db } from '../../../src/infra/db.js';
import { defaultActivationDelaySeconds, KeyEncryption, SigningKeys } from '../../../src/infra/keys.js';
import { AccessTokens, type AccessClaims } from '../../../src/infra/tokens.js';
import { AppError } from '../../../src/shared/errors.js';
import { urlFor, withAdmin } from '../../helpers/env.js';

const secret = 'signing-keys-test-secret-0123456789abcdef';
const issuer = 'http://sesame.test';
const audience = 'sesame';

function claims(): AccessClaims {
  return { sub: randomUUID(), sid: randomUUID(), actor_type: 'citizen', amr: ['pwd'], status: 'active', is_guest: false, roles: ['free'], permissions: ['quiz:play:free'], plan: 'free' };
}

async function rejection(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/**
 * Signing keys run on their own database: these tests rotate and delete keys, which the app
 * suites sharing the test database must not see.
 */
describe('signing keys (ES256, encrypted at rest, rotation shared through PostgreSQL)', () => {
  const database = `sesame_keys_${randomBytes(6).toString('hex')}`;
  // Two pools: two instances of Sésame ("processes") sharing one database.
  let dbA: Db;
  let dbB: Db;
  let clock: ManualClock;

  const instance = (db: Db, s = secret) => {
    const keys = new SigningKeys(db, clock, new KeyEncryption(s));
    return { keys, tokens: new AccessTokens(keys, clock, issuer, audience) };
  };

  before(async () => {
    await withAdmin((admin) => admin.raw(`create database "${database}"`));
    dbA = createDb(urlFor(database), 4);
    dbB = createDb(urlFor(database), 4);
    await migrateAndSeed(dbA);
  });

  after(async () => {
    await dbA?.destroy();
    await dbB?.destroy();
    await withAdmin((admin) => admin.raw(`drop database if exists "${database}" with (force)`));
  });

  beforeEach(async () => {
    await dbA('signing_keys').delete();
    clock = new ManualClock();
  });

  describe('the first key', () => {
    it('ensureActiveKey creates one key, and calling it again creates no other', async () => {
      const { keys } = instance(dbA);
      await keys.ensureActiveKey();
      await keys.ensureActiveKey();
      const rows = await keys.list();
      expect(rows).to.have.length(1);
      expect(rows[0]).to.include({ alg: 'ES256', retired_at: null, publish_until: null });
    });

    it('when two instances start at once, then exactly one key is created', async () => {
      await Promise.all([instance(dbA).keys.ensureActiveKey(), instance(dbB).keys.ensureActiveKey(), instance(dbA).keys.ensureActiveKey(), instance(dbB).keys.ensureActiveKey()]);
      expect(await dbA('signing_keys').pluck('kid')).to.have.length(1);
    });

    it('signingKey creates the first key when there is none', async () => {
      const { keys } = instance(dbA);
      const { kid } = await keys.signingKey();
      expect(await dbA('signing_keys').pluck('kid')).to.deep.equal([kid]);
    });

    it('jwks publishes the public part only: EC P-256, ES256, use sig, no d', async () => {
      const { keys } = instance(dbA);
      await keys.ensureActiveKey();
      const { keys: published } = await keys.jwks();
      expect(published).to.have.length(1);
      const [jwk] = published;
      expect(jwk).to.include({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(jwk).to.have.all.keys('kty', 'crv', 'x', 'y', 'kid', 'alg', 'use');
      expect(jwk!.kid).to.equal((await keys.list())[0]!.kid);
    });
  });

  describe('encryption at rest', () => {
    it('stores the private key encrypted, decryptable only with the right secret', async () => {
      const { keys } = instance(dbA);
      await keys.ensureActiveKey();
      const row = await dbA('signing_keys').first('kid', 'public_jwk', 'private_key_encrypted');
      const sealed = row.private_key_encrypted as string;
      expect(sealed).to.not.include('BEGIN PRIVATE KEY');
      expect(sealed).to.not.include('PRIVATE');
      expect(sealed).to.match(/^v1\./);

      const pem = new KeyEncryption(secret).decrypt(sealed);
      expect(pem).to.include('BEGIN PRIVATE KEY');
      // The decrypted private key is the one whose public part is published.
      const privateJwk = await exportJWK(await importPKCS8(pem, 'ES256', { extractable: true }));
      expect({ x: privateJwk.x, y: privateJwk.y }).to.deep.equal({ x: row.public_jwk.x, y: row.public_jwk.y });

      expect(() => new KeyEncryption('another-secret-0123456789abcdef-0123').decrypt(sealed)).to.throw();
    });

    it('refuses a tampered ciphertext', async () => {
      const enc = new KeyEncryption(secret);
      const sealed = enc.encrypt('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----');
      const [v, iv, tag, data] = sealed.split('.');
      const flipped = Buffer.from(data!, 'base64url');
      flipped[0] = flipped[0]! ^ 1;
      expect(() => enc.decrypt([v, iv, tag, flipped.toString('base64url')].join('.'))).to.throw();
      expect(() => enc.decrypt('v2.a.b.c')).to.throw(/format/);
    });

    it('encrypts the same plaintext differently each time (random IV)', () => {
      const enc = new KeyEncryption(secret);
      expect(enc.encrypt('same')).to.not.equal(enc.encrypt('same'));
      expect(enc.decrypt(enc.encrypt('same'))).to.equal('same');
    });

    it('an instance with the wrong KEY_ENCRYPTION_KEY cannot sign', async () => {
      await instance(dbA).keys.ensureActiveKey();
      const wrong = instance(dbB, 'wrong-secret-wrong-secret-wrong-secret-00');
      const err = await rejection(wrong.tokens.sign(claims(), 600));
      expect(err).to.be.instanceOf(Error);
      expect(await dbA('signing_keys').count<Array<{ count: string }>>('* as count')).to.deep.equal([{ count: '1' }]);
    });
  });

  describe('access tokens', () => {
    it('signs with the active kid and verifies', async () => {
      const a = instance(dbA);
      const c = claims();
      const { token, jti } = await a.tokens.sign(c, 600);
      const header = decodeProtectedHeader(token);
      expect(header).to.include({ alg: 'ES256', typ: 'JWT', kid: (await a.keys.list())[0]!.kid });
      const verified = await a.tokens.verify(token);
      expect(verified).to.include({ sub: c.sub, sid: c.sid, jti, iss: issuer, aud: audience });
    });

    it('an expired token is refused with token_expired', async () => {
      const a = instance(dbA);
      const { token } = await a.tokens.sign(claims(), 60);
      clock.advance(61_000);
      const err = await rejection(a.tokens.verify(token));
      expect(err).to.be.instanceOf(AppError).with.property('code', 'token_expired');
    });
  });

  describe('rotation', () => {
    it('after rotate, the new kid signs and the old kid stays published and still verifies its tokens', async () => {
      const a = instance(dbA);
      const oldToken = await a.tokens.sign(claims(), 600);
      const oldKid = decodeProtectedHeader(oldToken.token).kid!;

      const newKid = (await a.keys.rotate(600, 0)).kid;
      expect(newKid).to.not.equal(oldKid);
      const newToken = await a.tokens.sign(claims(), 600);
      expect(decodeProtectedHeader(newToken.token).kid).to.equal(newKid);

      const kids = (await a.keys.jwks()).keys.map((k) => k.kid);
      expect(kids).to.have.members([oldKid, newKid]);
      await a.tokens.verify(oldToken.token);
      await a.tokens.verify(newToken.token);

      const rows = await a.keys.list();
      const old = rows.find((r) => r.kid === oldKid)!;
      expect(old.retired_at).to.be.instanceOf(Date);
      expect(old.publish_until!.getTime() - old.retired_at!.getTime()).to.equal(600_000);
      expect(rows.find((r) => r.kid === newKid)).to.include({ retired_at: null });
    });

    it('a scheduled rotation publishes the next key at once but signs with it only from its activation', async () => {
      const a = instance(dbA);
      const before = decodeProtectedHeader((await a.tokens.sign(claims(), 600)).token).kid!;
      const { kid: next, activatesAt } = await a.keys.rotate(600);
      expect(activatesAt.getTime() - clock.now().getTime()).to.equal(defaultActivationDelaySeconds * 1000);
      expect((await a.keys.jwks()).keys.map((k) => k.kid)).to.include.members([before, next]);
      expect(decodeProtectedHeader((await a.tokens.sign(claims(), 600)).token).kid).to.equal(before);
      clock.advance(defaultActivationDelaySeconds * 1000 - 1000);
      expect(decodeProtectedHeader((await a.tokens.sign(claims(), 600)).token).kid).to.equal(before);
      clock.advance(1000);
      expect(decodeProtectedHeader((await a.tokens.sign(claims(), 600)).token).kid).to.equal(next);
      const old = (await a.keys.list()).find((r) => r.kid === before)!;
      expect(old.retired_at!.getTime()).to.equal(activatesAt.getTime());
    });

    it('a retired key verifies its tokens until publish_until, then leaves the JWKS', async () => {
      const a = instance(dbA);
      const oldToken = await a.tokens.sign(claims(), 600);
      const oldKid = decodeProtectedHeader(oldToken.token).kid!;
      await a.keys.rotate(600, 0);

      clock.advance(599_000);
      // A fresh instance (just started) and the long-running one both still publish it.
      const fresh = instance(dbB);
      expect((await fresh.keys.jwks()).keys.map((k) => k.kid)).to.include(oldKid);
      await fresh.tokens.verify(oldToken.token);
      expect((await a.keys.jwks()).keys.map((k) => k.kid)).to.include(oldKid);

      clock.advance(2_000); // past publish_until
      const restarted = instance(dbB);
      const published = (await restarted.keys.jwks()).keys.map((k) => k.kid);
      expect(published).to.not.include(oldKid);
      expect(published).to.have.length(1);
      const err = await rejection(restarted.tokens.verify(oldToken.token));
      expect(err).to.be.instanceOf(AppError).with.property('code', 'invalid_token');

      // The long-running instance drops it once its key cache (60 s) expires.
      clock.advance(60_000);
      expect((await a.keys.jwks()).keys.map((k) => k.kid)).to.not.include(oldKid);
    });

    it('instance B verifies a token signed with the key A rotated to, though B loaded its keys before the rotation', async () => {
      const a = instance(dbA);
      const b = instance(dbB);
      const before = await a.tokens.sign(claims(), 600);
      await b.tokens.verify(before.token); // B has loaded (and cached) the keys
      const bJwksBefore = (await b.keys.jwks()).keys.map((k) => k.kid);

      clock.advance(5_000);
      const newKid = (await a.keys.rotate(600, 0)).kid;
      const after = await a.tokens.sign(claims(), 600);
      expect(decodeProtectedHeader(after.token).kid).to.equal(newKid);
      expect(bJwksBefore).to.not.include(newKid);

      const verified = await b.tokens.verify(after.token); // unknown kid: B reloads
      expect(verified.jti).to.equal(after.jti);
      expect((await b.keys.jwks()).keys.map((k) => k.kid)).to.include(newKid);
      await b.tokens.verify(before.token);
    });

    it('instance B verifies the rotated-to key even within a second of its own last key load', async () => {
      // verificationKey() skips the reload for an unknown kid when the cache is < 1 s old
      // (src/infra/keys.ts), so a valid token minted right after a rotation can be refused.
      const a = instance(dbA);
      const b = instance(dbB);
      await b.keys.jwks(); // B loads its keys now
      const newKid = (await a.keys.rotate(600, 0)).kid;
      const after = await a.tokens.sign(claims(), 600);
      expect(decodeProtectedHeader(after.token).kid).to.equal(newKid);
      const verified = await b.tokens.verify(after.token);
      expect(verified.jti).to.equal(after.jti);
    });

    it('tokens with unknown kids make an instance reload its keys at most once a second', async () => {
      const a = instance(dbA);
      const { token } = await a.tokens.sign(claims(), 600);
      const [h, p, sig] = token.split('.');
      const header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, string>;
      const forge = () => [Buffer.from(JSON.stringify({ ...header, kid: randomUUID() })).toString('base64url'), p, sig].join('.');
      clock.advance(2_000);
      let keyQueries = 0;
      const count = (q: { sql: string }) => {
        if (q.sql.includes('signing_keys')) keyQueries++;
      };
      dbA.on('query', count);
      try {
        for (let i = 0; i < 10; i++) {
          const err = await rejection(a.tokens.verify(forge()));
          expect(err).to.be.instanceOf(AppError).with.property('code', 'invalid_token');
        }
        expect(keyQueries).to.equal(1);
        clock.advance(1_000);
        await rejection(a.tokens.verify(forge()));
        expect(keyQueries).to.equal(2);
      } finally {
        dbA.off('query', count);
      }
    });

    it('an instance that loaded keys before a rotation elsewhere signs with the new key once its cache (60 s) expires', async () => {
      const a = instance(dbA);
      const b = instance(dbB);
      const oldKid = (await b.keys.signingKey()).kid;
      const newKid = (await a.keys.rotate(600, 0)).kid;
      // Within the cache window B may still sign with the retired key: such tokens still verify everywhere.
      const stale = await b.tokens.sign(claims(), 600);
      expect(decodeProtectedHeader(stale.token).kid).to.be.oneOf([oldKid, newKid]);
      await a.tokens.verify(stale.token);
      clock.advance(60_000);
      const fresh = await b.tokens.sign(claims(), 600);
      expect(decodeProtectedHeader(fresh.token).kid).to.equal(newKid);
    });

    it('rotating twice keeps both retired keys published until their own publish_until', async () => {
      const a = instance(dbA);
      const k1 = (await a.keys.signingKey()).kid;
      const k2 = (await a.keys.rotate(600, 0)).kid;
      clock.advance(300_000);
      const k3 = (await a.keys.rotate(600, 0)).kid;
      const rows = await a.keys.list();
      expect(rows.filter((r) => r.retired_at === null).map((r) => r.kid)).to.deep.equal([k3]);
      clock.advance(301_000); // k1 past its window, k2 not
      const published = (await instance(dbB).keys.jwks()).keys.map((k) => k.kid);
      expect(published).to.have.members([k2, k3]);
      expect(published).to.not.include(k1);
    });
  });
});
