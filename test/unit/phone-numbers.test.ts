import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { CodeDigest, newCode } from '../../src/modules/phone/code-digest.js';
import { maskIdentifier } from '../../src/shared/logger.js';
import { maskPhone, parsePhone } from '../../src/shared/phone.js';

describe('phone numbers, codes and SMS settings', () => {
  describe('parsePhone (libphonenumber-js, full metadata)', () => {
    it('reads international and national forms into E.164 with the country', () => {
      expect(parsePhone('+240 222 12 34 56')).to.deep.equal({ e164: '+240222123456', country: 'GQ' });
      expect(parsePhone('+33 (0)6 12 34 56 78')).to.deep.equal({ e164: '+33612345678', country: 'FR' });
      expect(parsePhone('06 12 34 56 78', 'FR')).to.deep.equal({ e164: '+33612345678', country: 'FR' });
      expect(parsePhone('(202) 555-0143', 'US')).to.deep.equal({ e164: '+12025550143', country: 'US' });
    });

    it('refuses numbers that are too short, too long, of no country, or national without their country', () => {
      for (const input of ['+33612', '+3361234567890', '06 12 34 56 78', '+999 1234 5678', '+', '12']) expect(parsePhone(input), input).to.equal(undefined);
    });
  });

  describe('masking', () => {
    it('keeps the country calling code and the last two digits: +240 *** ** 56', () => {
      expect(maskPhone('+240222123456')).to.equal('+240 *** ** 56');
      expect(maskPhone('+33612345678')).to.equal('+33 *** ** 78');
      expect(maskPhone('+12025550143')).to.equal('+1 *** ** 43');
      expect(maskPhone('+12')).to.equal('+*** ** 12');
    });

    it('tells a phone number from an email, even one whose local part starts with +', () => {
      expect(maskIdentifier('+8613912345678')).to.equal('+86 *** ** 78');
      expect(maskIdentifier('jean.dupont@example.com')).to.equal('j***t@example.com');
      expect(maskIdentifier('+jean@example.com')).to.equal('+***n@example.com');
    });
  });

  describe('codes', () => {
    it('are 6 digits, spread over the whole range', () => {
      const codes = Array.from({ length: 2000 }, newCode);
      for (const c of codes) expect(c).to.match(/^[0-9]{6}$/);
      expect(new Set(codes).size).to.be.greaterThan(1990);
      expect(codes.some((c) => c.startsWith('0')), 'leading zeros are kept').to.equal(true);
    });

    it('are kept as a keyed digest bound to their verification: another key, id or code never matches', () => {
      const digest = new CodeDigest('secret-one-0123456789-0123456789-0123');
      const stored = digest.of('id-1', '123456');
      expect(stored).to.match(/^[0-9a-f]{64}$/);
      expect(digest.matches('id-1', '123456', stored)).to.equal(true);
      expect(digest.matches('id-1', '123457', stored)).to.equal(false);
      expect(digest.matches('id-2', '123456', stored)).to.equal(false);
      expect(new CodeDigest('secret-two-0123456789-0123456789-0123').matches('id-1', '123456', stored)).to.equal(false);
      expect(digest.matches('id-1', '123456', 'abcd'), 'a malformed digest').to.equal(false);
    });
  });

  describe('SMS settings', () => {
    it('reads allowed countries and per-country budgets, and names a bad entry', () => {
      const config = loadConfig({ SMS_ALLOWED_COUNTRIES: 'FR, GQ', SMS_COUNTRY_BUDGET: '200/1h', SMS_COUNTRY_BUDGETS: 'GQ:50/1h,US:off' });
      expect(config.SMS_ALLOWED_COUNTRIES).to.deep.equal(['FR', 'GQ']);
      expect(config.SMS_COUNTRY_BUDGET).to.deep.equal({ limit: 200, windowMs: 3_600_000 });
      expect(config.SMS_COUNTRY_BUDGETS).to.deep.equal({ GQ: { limit: 50, windowMs: 3_600_000 }, US: null });
      expect(loadConfig({}).SMS_COUNTRY_BUDGETS).to.deep.equal({});
      expect(() => loadConfig({ SMS_COUNTRY_BUDGETS: 'GQ=50/1h' })).to.throw(ConfigError, /SMS_COUNTRY_BUDGETS: 'GQ=50\/1h' is not/);
      expect(() => loadConfig({ SMS_ALLOWED_COUNTRIES: 'France' })).to.throw(ConfigError, /SMS_ALLOWED_COUNTRIES/);
    });
  });
});
