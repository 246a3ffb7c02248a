import { expect } from 'chai';
import type { EffectiveAccess, HeldRole } from '../../src/identity/access.js';
import { holdsPermission, permissionMatches } from '../../src/identity/access.js';
import { assertNoEscalation, assertNotSelf, highestPriority, uncovered } from '../../src/modules/rbac/escalation.js';
import { AppError } from '../../src/shared/errors.js';

describe('permission matching', () => {
  describe('permissionMatches', () => {
    it('matches an identical permission', () => {
      expect(permissionMatches('quiz:play:premium', 'quiz:play:premium')).to.equal(true);
    });

    it('refuses when any one part differs', () => {
      expect(permissionMatches('quiz:play:free', 'quiz:play:premium')).to.equal(false);
      expect(permissionMatches('quiz:create:premium', 'quiz:play:premium')).to.equal(false);
      expect(permissionMatches('ads:play:premium', 'quiz:play:premium')).to.equal(false);
    });

    it('lets a `*` part of the granted permission match any value of that part', () => {
      expect(permissionMatches('subscription:purchase:*', 'subscription:purchase:monthly')).to.equal(true);
      expect(permissionMatches('subscription:purchase:*', 'subscription:purchase:yearly')).to.equal(true);
      expect(permissionMatches('subscription:purchase:*', 'subscription:view:plans')).to.equal(false);
      expect(permissionMatches('quiz:*:premium', 'quiz:play:premium')).to.equal(true);
      expect(permissionMatches('quiz:*:premium', 'quiz:play:free')).to.equal(false);
      expect(permissionMatches('*:play:free', 'quiz:play:free')).to.equal(true);
    });

    it('lets `*:*:*` match any well-formed permission, including wildcard ones', () => {
      for (const required of ['quiz:play:premium', 'sesame:grant:roles', 'subscription:purchase:*', '*:*:*']) {
        expect(permissionMatches('*:*:*', required), required).to.equal(true);
      }
    });

    it('treats `*` in the required permission literally: only a granted `*` covers it', () => {
      expect(permissionMatches('subscription:purchase:monthly', 'subscription:purchase:*')).to.equal(false);
      expect(permissionMatches('subscription:purchase:*', 'subscription:purchase:*')).to.equal(true);
      expect(permissionMatches('quiz:play:premium', '*:*:*')).to.equal(false);
      expect(permissionMatches('quiz:*:*', '*:*:*')).to.equal(false);
    });

    it('never matches when either side does not have exactly three parts', () => {
      expect(permissionMatches('quiz:play', 'quiz:play:premium')).to.equal(false);
      expect(permissionMatches('quiz:play:premium', 'quiz:play')).to.equal(false);
      expect(permissionMatches('quiz:play:premium:extra', 'quiz:play:premium')).to.equal(false);
      expect(permissionMatches('*:*:*', 'quiz:play:premium:extra')).to.equal(false);
      expect(permissionMatches('*:*:*', 'quiz')).to.equal(false);
      expect(permissionMatches('*', 'quiz:play:premium')).to.equal(false);
      expect(permissionMatches('', '')).to.equal(false);
    });

    it('compares parts exactly (case and empty parts count)', () => {
      expect(permissionMatches('Quiz:play:premium', 'quiz:play:premium')).to.equal(false);
      expect(permissionMatches('quiz:play:', 'quiz:play:premium')).to.equal(false);
      expect(permissionMatches('quiz::premium', 'quiz::premium')).to.equal(true);
    });
  });

  describe('holdsPermission', () => {
    it('is true when any granted permission matches', () => {
      expect(holdsPermission(['quiz:play:free', 'subscription:purchase:*'], 'subscription:purchase:monthly')).to.equal(true);
      expect(holdsPermission(new Set(['quiz:play:free']), 'quiz:play:free')).to.equal(true);
    });

    it('is false for no permissions or none matching', () => {
      expect(holdsPermission([], 'quiz:play:free')).to.equal(false);
      expect(holdsPermission(['quiz:play:free', 'ads:skip:interstitial'], 'quiz:play:premium')).to.equal(false);
    });
  });
});

describe('privilege escalation rules', () => {
  const role = (name: string, priority: number): HeldRole => ({ role_id: `${name}-id`, name, priority, expires_at: null });
  const accessOf = (roles: HeldRole[], permissions: string[]): EffectiveAccess => ({ roles, permissions, plan: 'free', validUntil: null });
  const granter = accessOf([role('granter', 60), role('free', 10)], ['quiz:play:free', 'sesame:grant:roles']);

  function escalationOf(fn: () => void): AppError {
    try {
      fn();
    } catch (err) {
      expect(err).to.be.instanceOf(AppError);
      return err as AppError;
    }
    expect.fail('expected privilege_escalation');
  }

  it('ranks a caller by their highest role, and a caller without roles below every role', () => {
    expect(highestPriority(granter)).to.equal(60);
    expect(highestPriority(accessOf([], []))).to.equal(Number.NEGATIVE_INFINITY);
  });

  it('lists the wanted permissions the caller does not cover', () => {
    expect(uncovered(granter, ['quiz:play:free', 'quiz:play:premium', '*:*:*'])).to.deep.equal(['quiz:play:premium', '*:*:*']);
    expect(uncovered(accessOf([role('admin', 100)], ['*:*:*']), ['quiz:play:premium', '*:*:*'])).to.deep.equal([]);
  });

  it('accepts a role whose permissions the caller holds and whose priority does not exceed theirs', () => {
    expect(() => assertNoEscalation(granter, { name: 'free', priority: 10 }, ['quiz:play:free'])).to.not.throw();
    expect(() => assertNoEscalation(granter, { name: 'peer', priority: 60 }, [])).to.not.throw();
  });

  it('refuses a permission the caller does not hold', () => {
    expect(escalationOf(() => assertNoEscalation(granter, { name: 'premium', priority: 50 }, ['quiz:play:premium'])).code).to.equal('privilege_escalation');
    expect(escalationOf(() => assertNoEscalation(granter, { name: 'admin', priority: 100 }, ['*:*:*'])).code).to.equal('privilege_escalation');
  });

  it('refuses a role ranking above the caller, even with no permissions', () => {
    expect(escalationOf(() => assertNoEscalation(granter, { name: 'boss', priority: 61 }, [])).code).to.equal('privilege_escalation');
    expect(escalationOf(() => assertNoEscalation(accessOf([], ['*:*:*']), { name: 'guest', priority: 0 }, [])).code).to.equal('privilege_escalation');
  });

  it('refuses acting on one’s own grants', () => {
    expect(escalationOf(() => assertNotSelf('a', 'a')).code).to.equal('privilege_escalation');
    expect(() => assertNotSelf('a', 'b')).to.not.throw();
  });
});
