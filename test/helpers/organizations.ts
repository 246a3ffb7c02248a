import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../sdk/src/index.js';
import type { OrgRole } from '../../src/identity/org-roles.js';
import { organizationsRepo } from '../../src/identity/organizations.repo.js';
import type { TestApp } from './app.js';
import { latestMessage, loggedInUser } from './flows.js';

export type SignedIn = Awaited<ReturnType<typeof loggedInUser>>;

export function uniqueSlug(tag = 'org'): string {
  return `${tag}-${randomBytes(5).toString('hex')}`;
}

/** A new organization owned by `owner`, through the API. */
export async function createOrganization(app: TestApp, owner: SignedIn, overrides: Partial<sdk.OrganizationCreateRequest> = {}): Promise<sdk.Organization> {
  const { data, error } = await sdk.createOrganization({ client: app.client, auth: owner.session.access_token, body: { name: 'Boulangerie Dupont', slug: uniqueSlug(), ...overrides } });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  return data!;
}

/** Makes `userId` a member straight in the database (a test's setup; the invitation flow has its own tests). */
export async function addMemberDirectly(app: TestApp, orgId: string, userId: string, role: OrgRole): Promise<void> {
  await app.db.transaction((trx) => organizationsRepo.addMember(trx, { organization_id: orgId, user_id: userId, role }, app.clock.now()));
}

/** A signed-in user who is a `role` of the organization. */
export async function memberWithRole(app: TestApp, orgId: string, role: OrgRole): Promise<SignedIn> {
  const user = await loggedInUser(app);
  await addMemberDirectly(app, orgId, user.user.id, role);
  return user;
}

/** Invites `email` through the API and returns the token of the invitation email. */
export async function invite(app: TestApp, inviter: SignedIn, orgId: string, email: string, role: sdk.OrgRole = 'member'): Promise<{ invitation: sdk.Invitation; token: string }> {
  const { data, error } = await sdk.createInvitation({ client: app.client, auth: inviter.session.access_token, path: { org_id: orgId }, body: { email, role } });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  const message = await latestMessage(app, email);
  expect(message.template).to.equal('organization_invitation');
  return { invitation: data!, token: message.token! };
}

/** The roles of an organization's members, by user id, as stored. */
export async function storedRoles(app: TestApp, orgId: string): Promise<Record<string, string>> {
  const rows: Array<{ user_id: string; role: string }> = await app.db('organization_members').where({ organization_id: orgId }).select('user_id', 'role');
  return Object.fromEntries(rows.map((r) => [r.user_id, r.role]));
}
