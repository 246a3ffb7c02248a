import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import type { OrgRole } from '../../../src/identity/org-roles.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, uniqueEmail } from '../../helpers/flows.js';
import { addMemberDirectly, createOrganization, memberWithRole, storedRoles, type SignedIn } from '../../helpers/organizations.js';

/**
 * What each of the four roles may do (README "Organizations"): every row is run by an actor of
 * each role in an organization of its own (the same people join each one), with an owner,
 * another owner, an admin and a member as targets; `allowed` lists the roles that succeed, the
 * others get 403 permission_denied and change nothing.
 */
describe('organization roles: what owner, admin, member and viewer may do', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  interface World {
    org: sdk.Organization;
    actor: SignedIn;
    targets: Record<'owner' | 'admin' | 'member', SignedIn>;
  }

  type People = Record<'founder' | 'secondOwner' | 'admin' | 'member' | 'actor', SignedIn>;

  async function people(): Promise<People> {
    const [founder, secondOwner, admin, member, actor] = await Promise.all([1, 2, 3, 4, 5].map(() => loggedInUser(app)));
    return { founder: founder!, secondOwner: secondOwner!, admin: admin!, member: member!, actor: actor! };
  }

  /** A new organization (two owners, so no rule about the last one interferes), an actor of `role`, and targets. */
  async function world(role: OrgRole, p: People): Promise<World> {
    const org = await createOrganization(app, p.founder);
    await addMemberDirectly(app, org.id, p.secondOwner.user.id, 'owner');
    await addMemberDirectly(app, org.id, p.admin.user.id, 'admin');
    await addMemberDirectly(app, org.id, p.member.user.id, 'member');
    await addMemberDirectly(app, org.id, p.actor.user.id, role);
    return { org, actor: p.actor, targets: { owner: p.founder, admin: p.admin, member: p.member } };
  }

  const a = (w: World) => ({ client: app.client, auth: w.actor.session.access_token });
  const roles: OrgRole[] = ['owner', 'admin', 'member', 'viewer'];
  const rules: Array<{ does: string; allowed: OrgRole[]; run: (w: World) => Promise<{ response?: Response; error?: unknown }> }> = [
    { does: 'reads the organization', allowed: roles, run: (w) => sdk.getOrganization({ ...a(w), path: { org_id: w.org.id } }) },
    { does: 'lists its members', allowed: roles, run: (w) => sdk.listMembers({ ...a(w), path: { org_id: w.org.id } }) },
    { does: 'renames it', allowed: ['owner', 'admin'], run: (w) => sdk.updateOrganization({ ...a(w), path: { org_id: w.org.id }, body: { name: 'Renamed' } }) },
    { does: 'deletes it', allowed: ['owner'], run: (w) => sdk.deleteOrganization({ ...a(w), path: { org_id: w.org.id } }) },
    { does: 'lists its invitations', allowed: ['owner', 'admin'], run: (w) => sdk.listInvitations({ ...a(w), path: { org_id: w.org.id } }) },
    { does: 'invites a member', allowed: ['owner', 'admin'], run: (w) => sdk.createInvitation({ ...a(w), path: { org_id: w.org.id }, body: { email: uniqueEmail('inv'), role: 'member' } }) },
    { does: 'invites an admin', allowed: ['owner', 'admin'], run: (w) => sdk.createInvitation({ ...a(w), path: { org_id: w.org.id }, body: { email: uniqueEmail('inv'), role: 'admin' } }) },
    { does: 'invites an owner', allowed: ['owner'], run: (w) => sdk.createInvitation({ ...a(w), path: { org_id: w.org.id }, body: { email: uniqueEmail('inv'), role: 'owner' } }) },
    { does: 'makes a member a viewer', allowed: ['owner', 'admin'], run: (w) => sdk.updateMember({ ...a(w), path: { org_id: w.org.id, user_id: w.targets.member.user.id }, body: { role: 'viewer' } }) },
    { does: 'makes a member an admin', allowed: ['owner', 'admin'], run: (w) => sdk.updateMember({ ...a(w), path: { org_id: w.org.id, user_id: w.targets.member.user.id }, body: { role: 'admin' } }) },
    { does: 'demotes an admin', allowed: ['owner', 'admin'], run: (w) => sdk.updateMember({ ...a(w), path: { org_id: w.org.id, user_id: w.targets.admin.user.id }, body: { role: 'member' } }) },
    { does: 'makes a member an owner', allowed: ['owner'], run: (w) => sdk.updateMember({ ...a(w), path: { org_id: w.org.id, user_id: w.targets.member.user.id }, body: { role: 'owner' } }) },
    { does: 'demotes an owner', allowed: ['owner'], run: (w) => sdk.updateMember({ ...a(w), path: { org_id: w.org.id, user_id: w.targets.owner.user.id }, body: { role: 'admin' } }) },
    { does: 'removes a member', allowed: ['owner', 'admin'], run: (w) => sdk.removeMember({ ...a(w), path: { org_id: w.org.id, user_id: w.targets.member.user.id } }) },
    { does: 'removes an admin', allowed: ['owner', 'admin'], run: (w) => sdk.removeMember({ ...a(w), path: { org_id: w.org.id, user_id: w.targets.admin.user.id } }) },
    { does: 'removes an owner', allowed: ['owner'], run: (w) => sdk.removeMember({ ...a(w), path: { org_id: w.org.id, user_id: w.targets.owner.user.id } }) },
    { does: 'leaves', allowed: roles, run: (w) => sdk.removeMember({ ...a(w), path: { org_id: w.org.id, user_id: w.actor.user.id } }) },
    { does: 'promotes themself to owner', allowed: ['owner'], run: (w) => sdk.updateMember({ ...a(w), path: { org_id: w.org.id, user_id: w.actor.user.id }, body: { role: 'owner' } }) },
  ];

  for (const role of roles) {
    it(`as ${role}`, async () => {
      const outcomes: string[] = [];
      const p = await people();
      for (const rule of rules) {
        const w = await world(role, p);
        const before = await storedRoles(app, w.org.id);
        const result = await rule.run(w);
        const status = result.response?.status;
        if (rule.allowed.includes(role)) {
          expect(status, `${role} ${rule.does}: ${JSON.stringify(result.error)}`).to.be.oneOf([200, 201, 204]);
        } else {
          expectProblem(result, 403, 'permission_denied');
          expect(await storedRoles(app, w.org.id), `${role} ${rule.does} changed nothing`).to.deep.equal(before);
        }
        outcomes.push(`${rule.does}: ${status}`);
      }
      expect(outcomes).to.have.length(rules.length);
    });
  }

  it('a viewer is refused every write, and so is a member outside its own data', async () => {
    const { org, actor } = await world('viewer', await people());
    const check = (user: SignedIn, permission: string) =>
      sdk.checkPermission({ client: app.client, auth: user.session.access_token, body: { user_id: user.user.id, permission, organization_id: org.id } });
    for (const permission of ['org:write:data', 'org:write:members', 'org:delete:organization', 'org:write:anything']) {
      expect((await check(actor, permission)).data, permission).to.deep.include({ allowed: false, org_role: 'viewer' });
    }
    expect((await check(actor, 'org:read:data')).data).to.deep.include({ allowed: true, reason: 'granted', org_role: 'viewer' });
    const member = await memberWithRole(app, org.id, 'member');
    expect((await check(member, 'org:write:data')).data).to.deep.include({ allowed: true, org_role: 'member' });
    expect((await check(member, 'org:write:members')).data).to.deep.include({ allowed: false, org_role: 'member' });
  });
});
