import { expect } from 'chai';
import { isReadPermission, orgRolePolicy, orgRoles, type OrgRole } from '../../src/identity/org-roles.js';

describe('organization roles (the permission table)', () => {
  const everyPermission = [...new Set(orgRoles.flatMap((r) => orgRolePolicy.permissionsOf(r)))];

  it('a viewer holds only reads, and is refused every write, named in the table or not', () => {
    expect(orgRolePolicy.permissionsOf('viewer').every(isReadPermission)).to.equal(true);
    const writes = [...everyPermission.filter((p) => !isReadPermission(p)), 'org:write:anything', 'org:delete:anything', 'org:*:*', '*:*:*'];
    for (const permission of writes) expect(orgRolePolicy.allows('viewer', permission), permission).to.equal(false);
    expect(orgRolePolicy.allows('viewer', 'org:read:data')).to.equal(true);
  });

  it('each role holds everything of the roles below it', () => {
    for (let i = 1; i < orgRoles.length; i++) {
      const stronger = orgRolePolicy.permissionsOf(orgRoles[i - 1]!);
      for (const p of orgRolePolicy.permissionsOf(orgRoles[i]!)) expect(stronger, `${orgRoles[i - 1]} has ${p}`).to.include(p);
    }
  });

  it('only owners delete the organization or touch owners; admins manage members below owner; members write only data', () => {
    const holders = (p: string) => orgRoles.filter((r) => orgRolePolicy.allows(r, p));
    expect(holders('org:delete:organization')).to.deep.equal(['owner']);
    expect(holders('org:write:owners')).to.deep.equal(['owner']);
    expect(holders('org:write:members')).to.deep.equal(['owner', 'admin']);
    expect(holders('org:write:api_keys')).to.deep.equal(['owner', 'admin']);
    expect(holders('org:write:data')).to.deep.equal(['owner', 'admin', 'member']);
    expect(holders('org:read:members')).to.deep.equal(orgRoles);
  });

  it('assigning roles: owners anything; admins never to or from owner; members and viewers nothing', () => {
    const all: Array<OrgRole | undefined> = [...orgRoles, undefined];
    for (const from of all) for (const to of orgRoles) expect(orgRolePolicy.mayAssign('owner', from, to)).to.equal(true);
    for (const from of all) for (const to of orgRoles) expect(orgRolePolicy.mayAssign('admin', from, to), `admin: ${from} → ${to}`).to.equal(from !== 'owner' && to !== 'owner');
    for (const actor of ['member', 'viewer'] as const) for (const from of all) for (const to of orgRoles) expect(orgRolePolicy.mayAssign(actor, from, to)).to.equal(false);
    expect(orgRoles.filter((r) => orgRolePolicy.mayRemove('admin', r))).to.deep.equal(['admin', 'member', 'viewer']);
    expect(orgRoles.filter((r) => orgRolePolicy.mayRemove('member', r))).to.deep.equal([]);
  });
});
