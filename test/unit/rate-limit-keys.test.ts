import { expect } from 'chai';
import { emailOf, ipKey, limitKey } from '../../src/http/rate-limit/keys.js';

describe('rate-limit keys', () => {
  describe('ipKey', () => {
    it('keeps an IPv4 address whole', () => {
      expect(ipKey('203.0.113.7', 64)).to.equal('203.0.113.7');
      expect(ipKey('203.0.113.8', 64)).to.not.equal(ipKey('203.0.113.7', 64));
    });

    it('gives IPv6 addresses of one /64 the same key', () => {
      const a = ipKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64);
      expect(a).to.equal(ipKey('2001:db8:1:2::1', 64));
      expect(a).to.equal(ipKey('2001:DB8:1:2:ffff:ffff:ffff:ffff', 64));
    });

    it('gives IPv6 addresses of different /64s different keys', () => {
      expect(ipKey('2001:db8:1:2::1', 64)).to.not.equal(ipKey('2001:db8:1:3::1', 64));
    });

    it('follows the configured IPv6 subnet', () => {
      expect(ipKey('2001:db8:1:2::1', 48)).to.equal(ipKey('2001:db8:1:3::1', 48));
      expect(ipKey('2001:db8:1:2::1', 128)).to.not.equal(ipKey('2001:db8:1:2::2', 128));
    });

    it('maps an IPv4-mapped IPv6 address to the IPv4 key', () => {
      expect(ipKey('::ffff:1.2.3.4', 64)).to.equal(ipKey('1.2.3.4', 64));
      expect(ipKey('::ffff:1.2.3.4', 64)).to.not.equal(ipKey('::ffff:1.2.3.5', 64));
    });

    it('gives a request without an address one shared key', () => {
      expect(ipKey(undefined, 64)).to.equal('unknown');
    });
  });

  describe('emailOf', () => {
    it('trims and lower-cases the email', () => {
      expect(emailOf({ email: '  Jean.Dupont@Example.COM ' })).to.equal('jean.dupont@example.com');
    });

    it('finds no email in a body without a usable one', () => {
      for (const body of [undefined, null, 'text', {}, { email: 42 }, { email: '   ' }]) expect(emailOf(body), JSON.stringify(body)).to.equal(undefined);
    });
  });

  describe('limitKey', () => {
    it('counts by IP a limit by IP, whatever the body says', () => {
      expect(limitKey('ip', { ip: '203.0.113.7', body: { email: 'a@example.com' } }, 64)).to.equal('ip:203.0.113.7');
    });

    it('counts an email in any case and spacing under one key that does not show the address', () => {
      const key = limitKey('email', { ip: '203.0.113.7', body: { email: 'jean@example.com' } }, 64);
      expect(key).to.match(/^email:[A-Za-z0-9_-]{43}$/);
      expect(key).to.not.include('jean');
      expect(limitKey('email', { ip: '198.51.100.1', body: { email: ' JEAN@Example.com' } }, 64)).to.equal(key);
      expect(limitKey('email', { body: { email: 'jeanne@example.com' } }, 64)).to.not.equal(key);
    });

    it('counts by IP an email limit when the request names no email', () => {
      expect(limitKey('email', { ip: '2001:db8:1:2::5', body: {} }, 64)).to.equal(`ip:${ipKey('2001:db8:1:2::1', 64)}`);
    });
  });
});
