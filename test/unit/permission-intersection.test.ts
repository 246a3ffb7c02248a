import { expect } from 'chai';
import { holdsPermission, intersectPermissions } from '../../src/identity/access.js';

describe('intersectPermissions (what an API key holds: its own ∩ its owner’s)', () => {
  it('keeps what both hold, the narrower pattern of each pair', () => {
    expect(intersectPermissions(['quiz:*:*'], ['*:play:*'])).to.deep.equal(['quiz:play:*']);
    expect(intersectPermissions(['quiz:play:free', 'ads:view:*'], ['*:*:*'])).to.deep.equal(['ads:view:*', 'quiz:play:free']);
    expect(intersectPermissions(['quiz:play:free'], ['quiz:play:premium'])).to.deep.equal([]);
    expect(intersectPermissions([], ['*:*:*'])).to.deep.equal([]);
    expect(intersectPermissions(['bad', 'quiz:play:free'], ['quiz:play:free', 'also:bad'])).to.deep.equal(['quiz:play:free']);
  });

  it('covers a permission exactly when both sides cover it', () => {
    const a = ['quiz:*:*', 'ads:view:banner', 'sesame:check:permissions'];
    const b = ['*:play:*', 'ads:*:*', 'sesame:*:users'];
    const probes = ['quiz:play:free', 'quiz:buy:x', 'ads:view:banner', 'ads:view:video', 'sesame:check:permissions', 'sesame:check:users', 'x:play:y'];
    const both = intersectPermissions(a, b);
    for (const p of probes) expect(holdsPermission(both, p), p).to.equal(holdsPermission(a, p) && holdsPermission(b, p));
  });
});
