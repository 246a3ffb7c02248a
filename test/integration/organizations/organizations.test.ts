import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, uniqueEmail } from '../../helpers/flows.js';
import { createOrganization, memberWithRole, storedRoles, uniqueSlug, type SignedIn } from '../../helpers/organizations.js';
import type { AuditRow } from '../../helpers/probes.js';

describe('organizations (CRUD, members, scoping by membership)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));
  const auth = (u: SignedIn) => ({ client: app.client, auth: u.session.access_token });

  describe('create, read, update, delete', () => {
    it('the creator becomes the only owner; the list shows the caller its organizations with its role', async () => {
      const owner = await loggedInUser(app);
      const slug = uniqueSlug('dupont');
      const created = await sdk.createOrganization({ ...auth(owner), body: { name: 'Boulangerie Dupont', slug, metadata: { siret: '123' } } });
      expect(created.response?.status).to.equal(201);
      expect(created.data).to.deep.include({ name: 'Boulangerie Dupont', slug, role: 'owner', metadata: { siret: '123' } });
      expect(await storedRoles(app, created.data!.id)).to.deep.equal({ [owner.user.id]: 'owner' });

      const list = await sdk.listOrganizations(auth(owner));
      expect(list.data!.items.map((o) => [o.id, o.role])).to.deep.equal([[created.data!.id, 'owner']]);
      const other = await loggedInUser(app);
      expect((await sdk.listOrganizations(auth(other))).data!.items).to.deep.equal([]);

      const audit: AuditRow | undefined = await app.db('audit_logs').where({ user_id: owner.user.id, event: 'organization.created' }).first();
      expect(audit?.details).to.deep.include({ organization_id: created.data!.id, slug });
    });

    it('a slug is unique among live organizations (409) and free again once its organization is deleted', async () => {
      const owner = await loggedInUser(app);
      const slug = uniqueSlug();
      const first = await createOrganization(app, owner, { slug });
      expectProblem(await sdk.createOrganization({ ...auth(owner), body: { name: 'Copie', slug } }), 409, 'organization_slug_taken');
      const second = await createOrganization(app, owner);
      expectProblem(await sdk.updateOrganization({ ...auth(owner), path: { org_id: second.id }, body: { slug } }), 409, 'organization_slug_taken');

      expect((await sdk.deleteOrganization({ ...auth(owner), path: { org_id: first.id } })).response?.status).to.equal(204);
      expect((await sdk.createOrganization({ ...auth(owner), body: { name: 'Nouvelle', slug } })).response?.status).to.equal(201);
    });

    it('bad input is 400 and changes nothing: a slug with capitals, unknown fields, metadata over 16 KiB', async () => {
      const owner = await loggedInUser(app);
      expectProblem(await sdk.createOrganization({ ...auth(owner), body: { name: 'X', slug: 'Not-A-Slug' } }), 400, 'validation_failed');
      const org = await createOrganization(app, owner);
      expectProblem(await sdk.updateOrganization({ ...auth(owner), path: { org_id: org.id }, body: { owner_id: randomUUID() } as never }), 400, 'field_not_editable');
      const big = { blob: 'x'.repeat(17 * 1024) };
      expectProblem(await sdk.updateOrganization({ ...auth(owner), path: { org_id: org.id }, body: { metadata: big } }), 400, 'metadata_too_large');
      expect((await sdk.getOrganization({ ...auth(owner), path: { org_id: org.id } })).data).to.deep.include({ name: org.name, slug: org.slug, metadata: {} });
    });

    it('PATCH changes only the fields given and is audited; DELETE is soft and the organization is gone for every member', async () => {
      const owner = await loggedInUser(app);
      const org = await createOrganization(app, owner);
      const member = await memberWithRole(app, org.id, 'member');
      const patched = await sdk.updateOrganization({ ...auth(owner), path: { org_id: org.id }, body: { name: 'Dupont & Fils' } });
      expect(patched.data).to.deep.include({ name: 'Dupont & Fils', slug: org.slug, role: 'owner' });
      expect((await sdk.getOrganization({ ...auth(member), path: { org_id: org.id } })).data).to.deep.include({ name: 'Dupont & Fils', role: 'member' });

      await sdk.deleteOrganization({ ...auth(owner), path: { org_id: org.id } });
      expect(await app.db('organizations').where({ id: org.id }).first('deleted_at')).to.have.property('deleted_at').that.is.instanceOf(Date);
      expectProblem(await sdk.getOrganization({ ...auth(member), path: { org_id: org.id } }), 404, 'organization_not_found');
      expect((await sdk.listOrganizations(auth(member))).data!.items).to.deep.equal([]);
      const events = (await app.db('audit_logs').where({ user_id: owner.user.id }).whereIn('event', ['organization.updated', 'organization.deleted']).select('event', 'details')) as AuditRow[];
      expect(events.map((e) => e.event).sort()).to.deep.equal(['organization.deleted', 'organization.updated']);
      expect(events.find((e) => e.event === 'organization.updated')!.details).to.deep.include({ fields: ['name'] });
    });

    it('lists page with a cursor, newest first', async () => {
      const owner = await loggedInUser(app);
      const made = [];
      for (let i = 0; i < 3; i++) {
        made.push(await createOrganization(app, owner));
        app.clock.advance(1000);
      }
      const first = await sdk.listOrganizations({ ...auth(owner), query: { limit: 2 } });
      expect(first.data!.items.map((o) => o.id)).to.deep.equal([made[2]!.id, made[1]!.id]);
      const second = await sdk.listOrganizations({ ...auth(owner), query: { limit: 2, cursor: first.data!.next_cursor! } });
      expect(second.data!.items.map((o) => o.id)).to.deep.equal([made[0]!.id]);
      expect(second.data!.next_cursor).to.equal(null);
    });
  });

  describe('scoping: another organization answers 404, never 403', () => {
    /** Every organization operation, called by `caller` on `orgId` (with ids of real rows where it needs them). */
    function everyOperation(caller: SignedIn, orgId: string, ids: { memberId: string; invitationId: string }) {
      const a = auth(caller);
      const path = { org_id: orgId };
      return {
        getOrganization: () => sdk.getOrganization({ ...a, path }),
        updateOrganization: () => sdk.updateOrganization({ ...a, path, body: { name: 'Pris' } }),
        deleteOrganization: () => sdk.deleteOrganization({ ...a, path }),
        listMembers: () => sdk.listMembers({ ...a, path }),
        updateMember: () => sdk.updateMember({ ...a, path: { ...path, user_id: ids.memberId }, body: { role: 'viewer' } }),
        removeMember: () => sdk.removeMember({ ...a, path: { ...path, user_id: ids.memberId } }),
        leave: () => sdk.removeMember({ ...a, path: { ...path, user_id: caller.user.id } }),
        createInvitation: () => sdk.createInvitation({ ...a, path, body: { email: uniqueEmail('probe'), role: 'member' } }),
        listInvitations: () => sdk.listInvitations({ ...a, path }),
        revokeInvitation: () => sdk.revokeInvitation({ ...a, path: { ...path, invitation_id: ids.invitationId } }),
        setActiveOrganization: () => sdk.setActiveOrganization({ ...a, body: { organization_id: orgId } }),
        createApiKey: () => sdk.createApiKey({ ...a, body: { name: 'probe', permissions: [], organization_id: orgId } }),
      };
    }

    it('for every operation: another organization, a deleted one and an unknown id all answer 404 organization_not_found, and nothing changes', async () => {
      const owner = await loggedInUser(app);
      const theirs = await createOrganization(app, owner);
      const theirMember = await memberWithRole(app, theirs.id, 'member');
      const invitation = (await sdk.createInvitation({ ...auth(owner), path: { org_id: theirs.id }, body: { email: uniqueEmail('guest'), role: 'member' } })).data!;

      const outsider = await loggedInUser(app);
      const own = await createOrganization(app, outsider);
      const gone = await createOrganization(app, outsider);
      await sdk.deleteOrganization({ ...auth(outsider), path: { org_id: gone.id } });

      for (const orgId of [theirs.id, gone.id, randomUUID()]) {
        for (const [name, call] of Object.entries(everyOperation(outsider, orgId, { memberId: theirMember.user.id, invitationId: invitation.id }))) {
          const result = await call();
          expect(result.response?.status, `${name} on ${orgId === theirs.id ? 'another organization' : orgId === gone.id ? 'a deleted one' : 'an unknown id'}`).to.equal(404);
          expectProblem(result, 404, 'organization_not_found');
        }
      }
      expect(await storedRoles(app, theirs.id)).to.deep.equal({ [owner.user.id]: 'owner', [theirMember.user.id]: 'member' });
      expect((await sdk.getOrganization({ ...auth(owner), path: { org_id: theirs.id } })).data!.name).to.equal(theirs.name);
      expect((await app.db('organization_invitations').where({ id: invitation.id }).first('status')).status).to.equal('pending');
      // The outsider's own organization is untouched by the probes.
      expect((await sdk.getOrganization({ ...auth(outsider), path: { org_id: own.id } })).data!.role).to.equal('owner');
    });

    it('a member of the organization is told 404 member_not_found for a user who is not a member (whoever that user is)', async () => {
      const owner = await loggedInUser(app);
      const org = await createOrganization(app, owner);
      const stranger = await loggedInUser(app);
      expectProblem(await sdk.updateMember({ ...auth(owner), path: { org_id: org.id, user_id: stranger.user.id }, body: { role: 'admin' } }), 404, 'member_not_found');
      expectProblem(await sdk.removeMember({ ...auth(owner), path: { org_id: org.id, user_id: randomUUID() } }), 404, 'member_not_found');
    });
  });

  describe('members', () => {
    it('lists the members with their role and profile; changes of role and removals are audited with who did them', async () => {
      const owner = await loggedInUser(app);
      const org = await createOrganization(app, owner);
      const member = await memberWithRole(app, org.id, 'member');
      const listed = await sdk.listMembers({ ...auth(member), path: { org_id: org.id } });
      expect(listed.data!.items.map((m) => [m.user_id, m.role, m.email]).sort()).to.deep.equal(
        [
          [owner.user.id, 'owner', owner.body.email],
          [member.user.id, 'member', member.body.email],
        ].sort(),
      );

      const changed = await sdk.updateMember({ ...auth(owner), path: { org_id: org.id, user_id: member.user.id }, body: { role: 'admin' } });
      expect(changed.data).to.deep.include({ user_id: member.user.id, role: 'admin', email: member.body.email });
      expect((await sdk.removeMember({ ...auth(owner), path: { org_id: org.id, user_id: member.user.id } })).response?.status).to.equal(204);
      expect(await storedRoles(app, org.id)).to.deep.equal({ [owner.user.id]: 'owner' });

      const rows = (await app.db('audit_logs').where({ user_id: member.user.id }).where('event', 'like', 'organization.%').orderBy('event').select('event', 'actor_id', 'details')) as Array<AuditRow & { actor_id: string }>;
      expect(rows.map((r) => [r.event, r.actor_id])).to.deep.equal([
        ['organization.member_removed', owner.user.id],
        ['organization.member_role_changed', owner.user.id],
      ]);
      expect(rows[1]!.details).to.deep.include({ organization_id: org.id, from: 'member', to: 'admin' });
    });

    it('a member leaves with their own id (audited as member_left); the last owner cannot leave (409 last_owner)', async () => {
      const owner = await loggedInUser(app);
      const org = await createOrganization(app, owner);
      const viewer = await memberWithRole(app, org.id, 'viewer');
      expect((await sdk.removeMember({ ...auth(viewer), path: { org_id: org.id, user_id: viewer.user.id } })).response?.status).to.equal(204);
      expect(await app.db('audit_logs').where({ user_id: viewer.user.id, event: 'organization.member_left' }).first()).to.not.equal(undefined);
      expectProblem(await sdk.removeMember({ ...auth(owner), path: { org_id: org.id, user_id: owner.user.id } }), 409, 'last_owner');
      expectProblem(await sdk.updateMember({ ...auth(owner), path: { org_id: org.id, user_id: owner.user.id }, body: { role: 'admin' } }), 409, 'last_owner');
      expect(await storedRoles(app, org.id)).to.deep.equal({ [owner.user.id]: 'owner' });
    });
  });
});
