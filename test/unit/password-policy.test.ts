import { expect } from 'chai';
import { PasswordHasher, owaspArgon2, passwordPolicyViolations } from '../../src/infra/passwords.js';

const strong = 'Sesame-Test-2026!';
const commonMessage = 'The password is too common or contains personal information.';

/** The "needs …" message of the character-class/length rule, or undefined when it passes. */
function needs(password: string, context: string[] = []): string | undefined {
  return passwordPolicyViolations(password, context).find((e) => e.message.startsWith('The password needs'))?.message;
}

function isCommon(password: string, context: string[] = []): boolean {
  return passwordPolicyViolations(password, context).some((e) => e.message === commonMessage);
}

describe('password policy (passwordPolicyViolations)', () => {
  it('accepts a strong password', () => {
    expect(passwordPolicyViolations(strong)).to.deep.equal([]);
    expect(passwordPolicyViolations(strong, ['jean.dupont', 'Jean', 'Dupont'])).to.deep.equal([]);
  });

  it('reports every error on /body/password', () => {
    const errors = passwordPolicyViolations('password');
    expect(errors).to.have.length(2);
    for (const e of errors) expect(e.path).to.equal('/body/password');
  });

  describe('character classes', () => {
    it('when the upper-case letter is missing, then only that is reported', () => {
      expect(needs('sesame-test-2026!')).to.equal('The password needs an upper-case letter.');
    });

    it('when the lower-case letter is missing, then only that is reported', () => {
      expect(needs('SESAME-TEST-2026!')).to.equal('The password needs a lower-case letter.');
    });

    it('when the digit is missing, then only that is reported', () => {
      expect(needs('Sesame-Test-Quatre!')).to.equal('The password needs a digit.');
    });

    it('when the symbol is missing, then only that is reported', () => {
      expect(needs('SesameTest2026')).to.equal('The password needs a symbol.');
    });

    it('a space is not a symbol', () => {
      expect(needs('Sesame Test 2026')).to.equal('The password needs a symbol.');
    });

    it('non-ASCII letters count as letters of their case', () => {
      expect(needs('Éléphant-2026!')).to.equal(undefined);
      expect(needs('ÉLÉPHANT-2026!')).to.equal('The password needs a lower-case letter.');
    });

    it('when everything is missing, then one message lists every need', () => {
      expect(needs('')).to.equal('The password needs at least 8 characters, an upper-case letter, a lower-case letter, a digit, a symbol.');
    });
  });

  describe('length', () => {
    const ofLength = (n: number) => `Kx7!${'mq'.repeat(64)}`.slice(0, n);

    it('accepts 8 characters and refuses 7', () => {
      expect(ofLength(8)).to.have.length(8);
      expect(passwordPolicyViolations(ofLength(8))).to.deep.equal([]);
      expect(needs(ofLength(7))).to.equal('The password needs at least 8 characters.');
    });

    it('accepts 128 characters and refuses 129', () => {
      expect(ofLength(128)).to.have.length(128);
      expect(passwordPolicyViolations(ofLength(128))).to.deep.equal([]);
      const tooLong = `${ofLength(128)}q`;
      expect(tooLong).to.have.length(129);
      expect(needs(tooLong)).to.equal('The password needs at most 128 characters.');
    });

    it('counts characters (code points), not UTF-16 units', () => {
      const sevenWithEmoji = 'Kx7!😀😀😀'; // 7 characters, 10 UTF-16 units
      expect(sevenWithEmoji.length).to.equal(10);
      expect(needs(sevenWithEmoji)).to.equal('The password needs at least 8 characters.');
      expect(passwordPolicyViolations('Kx7!😀😀😀😀')).to.deep.equal([]);
      const emoji128 = `Kx7!${'😀'.repeat(124)}`;
      expect([...emoji128]).to.have.length(128);
      expect(passwordPolicyViolations(emoji128)).to.deep.equal([]);
      expect(needs(`${emoji128}😀`)).to.equal('The password needs at most 128 characters.');
    });
  });

  describe('common passwords', () => {
    it("refuses 'Password1!' (the common stem 'password' with a digit and a symbol appended)", () => {
      const errors = passwordPolicyViolations('Password1!');
      expect(errors).to.deep.equal([{ path: '/body/password', message: commonMessage }]);
    });

    it('refuses common stems whatever digits and symbols are appended, in any case', () => {
      for (const p of ['Password123!!', 'PaSsWoRd2026!', 'Monkey!2026', 'Dragon_1999', 'Qwerty123!', 'Letmein#42', 'Motdepasse1!']) {
        expect(isCommon(p), p).to.equal(true);
      }
    });

    it('refuses a common password that itself contains digits and symbols', () => {
      expect(isCommon('P@ssw0rd')).to.equal(true);
      expect(isCommon('1qaz2WSX!')).to.equal(true);
    });

    it('refuses a common password ending in digits with only a symbol appended (abcd1234 + !)', () => {
      // 'abcd1234' and 'qwer1234' are in the common list; stripping every trailing non-letter
      // leaves 'abcd' / 'qwer', which are not, so the appended-symbol variant slips through.
      expect(isCommon('Abcd1234!'), 'Abcd1234!').to.equal(true);
      expect(isCommon('Qwer1234!'), 'Qwer1234!').to.equal(true);
    });

    it('accepts an uncommon password that merely starts like a common one', () => {
      expect(isCommon('Password-Manager-Vault-7')).to.equal(false);
    });
  });

  describe('personal information', () => {
    it('refuses a password containing the email local part or a name (case-insensitive)', () => {
      expect(isCommon('Marie.Curie#1867', ['marie.curie', 'Marie', 'Curie'])).to.equal(true);
      expect(isCommon('Xx-DUPONT-2026!', ['jean.dupont', 'Jean', 'Dupont'])).to.equal(true);
      expect(isCommon('Bonjour-Jean-7!', ['jd', 'Jean', 'Dupont'])).to.equal(true);
    });

    it('ignores context shorter than 4 characters', () => {
      expect(isCommon('Lior-Kx7!-mq', ['li', 'Li', 'Kx7'])).to.equal(false);
    });

    it('accepts a strong password unrelated to the context', () => {
      expect(passwordPolicyViolations(strong, ['marie.curie', 'Marie', 'Curie'])).to.deep.equal([]);
    });
  });
});

describe('PasswordHasher (argon2id)', () => {
  const small = { memoryKiB: 1024, timeCost: 1 };
  const hasher = new PasswordHasher(small);

  it('hashes with argon2id and the configured parameters, salted', async () => {
    const a = await hasher.hash(strong);
    const b = await hasher.hash(strong);
    expect(a).to.match(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(a).to.not.equal(b);
    expect(a).to.not.include(strong);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const h = await hasher.hash(strong);
    expect(await hasher.verify(h, strong)).to.equal(true);
    expect(await hasher.verify(h, 'Sesame-Test-2026?')).to.equal(false);
    expect(await hasher.verify(h, '')).to.equal(false);
  });

  it('verifies a hash made with other parameters (they are in the hash)', async () => {
    const h = await new PasswordHasher({ memoryKiB: 2048, timeCost: 2 }).hash(strong);
    expect(await hasher.verify(h, strong)).to.equal(true);
  });

  it('a malformed stored hash never matches and does not throw', async () => {
    expect(await hasher.verify('not-a-hash', strong)).to.equal(false);
    expect(await hasher.verify('$argon2id$v=19$m=1024,t=1,p=1$garbage', strong)).to.equal(false);
  });

  it('verifyDecoy is always false, even for the decoy password itself', async () => {
    expect(await hasher.verifyDecoy(strong)).to.equal(false);
    expect(await hasher.verifyDecoy('decoy-password-never-matches')).to.equal(false);
  });

  describe('needsRehash', () => {
    it('is false for a hash with the current parameters', async () => {
      expect(hasher.needsRehash(await hasher.hash(strong))).to.equal(false);
    });

    it('is true when the memory or the time cost is lower than the current one', async () => {
      const weak = await hasher.hash(strong);
      expect(new PasswordHasher({ memoryKiB: 2048, timeCost: 1 }).needsRehash(weak)).to.equal(true);
      expect(new PasswordHasher({ memoryKiB: 1024, timeCost: 2 }).needsRehash(weak)).to.equal(true);
      expect(new PasswordHasher(owaspArgon2).needsRehash(weak)).to.equal(true);
    });

    it('is false for a hash made with stronger parameters', async () => {
      const stronger = await new PasswordHasher({ memoryKiB: 2048, timeCost: 2 }).hash(strong);
      expect(hasher.needsRehash(stronger)).to.equal(false);
    });

    it('is true for another algorithm or an unreadable hash', () => {
      expect(hasher.needsRehash('$argon2i$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g')).to.equal(true);
      expect(hasher.needsRehash('$2b$12$abcdefghijklmnopqrstuu6q0Vn1o6CwE0sK8Q7bF3pXyZ1n2m3o4')).to.equal(true);
      expect(hasher.needsRehash('')).to.equal(true);
    });
  });
});
