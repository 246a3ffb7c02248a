import { expect } from 'chai';
import type { ActorTypeRow } from '../../src/identity/actor-types.repo.js';
import { removingLastWayIn, waysIn, type AccountCredentials } from '../../src/identity/ways-in.js';

describe('ways in (what can sign an account in on its own)', () => {
  const type = (name: string, allowed: string[]): ActorTypeRow => ({
    name,
    allowed_methods: allowed,
    self_signup: false,
    require_2fa: false,
    access_token_ttl: 1800,
    session_duration: 604800,
    allow_impersonation: true,
    priority: 10,
  });
  const account = (user: Partial<AccountCredentials['user']>, externalMethods: AccountCredentials['externalMethods'] = []): AccountCredentials => ({
    user: { password_hash: null, phone: null, phone_verified_at: null, ...user },
    externalMethods,
  });
  const verifiedPhone = { phone: '+8613800000000', phone_verified_at: new Date(0) };

  it('counts the password, a verified phone and each identity, each while a held actor type allows its method', () => {
    const everything = [type('a', ['password', 'sms', 'google', 'oidc:x'])];
    const full = account({ password_hash: '$argon2id$…', ...verifiedPhone }, ['google', 'oidc:x']);
    expect(waysIn(full, everything)).to.have.members(['password', 'sms', 'google', 'oidc:x']);
    // Spread over two types, the same: any held type may allow a method.
    expect(waysIn(full, [type('a', ['password']), type('b', ['sms', 'google', 'oidc:x'])])).to.have.members(['password', 'sms', 'google', 'oidc:x']);
    expect(waysIn(full, [type('a', ['google'])])).to.deep.equal(['google']);
    expect(waysIn(full, [])).to.deep.equal([]);
  });

  it('an unverified phone number, QR and guest sign-ins are no way in', () => {
    expect(waysIn(account({ phone: '+8613800000000' }), [type('a', ['sms', 'qr', 'guest'])])).to.deep.equal([]);
  });

  it('removing the last credential that signs in is refused; removing one no held type allows is not', () => {
    const held = [type('a', ['sms', 'google'])];
    expect(removingLastWayIn(account({}), held, 'google')).to.equal(true);
    expect(removingLastWayIn(account(verifiedPhone), held, 'google')).to.equal(false);
    expect(removingLastWayIn(account({}, ['google']), held, 'google')).to.equal(false);
    // A GitHub identity the account's types do not allow never signed it in: taking it away loses nothing.
    expect(removingLastWayIn(account({}), held, 'github')).to.equal(false);
  });
});
