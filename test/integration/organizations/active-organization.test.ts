import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { loggedInUser } from '../../helpers/flows.js';
import { addMemberDirectly, createOrganization, memberWithRole, type SignedIn } from '../../helpers/organizations.js';

describe('the active organization (POST /auth/active-organization) in tokens, and its removal', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));
  const auth = (u: SignedIn) => ({ client: app.client, auth: u.session.access_token });

  async function switchTo(u: SignedIn, organizationId: string | null): Promise<sdk.TokenPair> {
    const { data, error } = await sdk.setActiveOrganization({ ...auth(u), body: { organization_id: organizationId } });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return data!;
  }
  const verify = (token: string) => sdk.verifyTokenGet({ client: app.client, headers: { authorization: `Bearer ${token}` } });
  const refresh = async (refreshToken: string) => (await sdk.refreshToken({ client: app.client, body: { refresh_token: refreshToken } })).data!;
  const checkWrite = (token: string, user: SignedIn) => sdk.checkPermission({ client: app.client, auth: token, body: { user_id: user.user.id, permission: 'org:write:data' } });

  async function memberInOrg(role: 'owner' | 'admin' | 'member' | 'viewer' = 'member') {
    const owner = await loggedInUser(app);
    const org = await createOrganization(app, owner);
    const member = role === 'owner' ? owner : await memberWithRole(app, org.id, role);
    const tokens = await switchTo(member, org.id);
    return { owner, org, member, tokens };
  }

  it('the new tokens carry org_id and org_role; the refresh token rotates; verify answers them with X-Org-Id and X-Org-Role', async () => {
    const { org, member, tokens } = await memberInOrg('member');
    expect(decodeJwt(tokens.access_token)).to.include({ org_id: org.id, org_role: 'member', sid: decodeJwt(member.session.access_token).sid });
    expect(tokens.refresh_token).to.not.equal(member.session.refresh_token);
    const verified = await verify(tokens.access_token);
    expect(verified.data).to.deep.include({ org_id: org.id, org_role: 'member' });
    expect(verified.response!.headers.get('x-org-id')).to.equal(org.id);
    expect(verified.response!.headers.get('x-org-role')).to.equal('member');
    // Refreshes keep it.
    const next = await refresh(tokens.refresh_token);
    expect(decodeJwt(next.access_token)).to.include({ org_id: org.id, org_role: 'member' });
    const audit = await app.db('audit_logs').where({ user_id: member.user.id, event: 'organization.switched' }).first('details');
    expect(audit.details).to.deep.include({ organization_id: org.id, role: 'member' });
  });

  it('a token without an organization, and null, carry none', async () => {
    const { member, tokens } = await memberInOrg();
    expect(decodeJwt(member.session.access_token)).to.not.have.any.keys('org_id', 'org_role');
    const cleared = await switchTo({ ...member, session: { ...member.session, access_token: tokens.access_token } }, null);
    expect(decodeJwt(cleared.access_token)).to.not.have.any.keys('org_id', 'org_role');
    expect((await verify(cleared.access_token)).data).to.not.have.any.keys('org_id', 'org_role');
  });

  it('a role change shows in verify and the permission check at once, and in the token at the next refresh', async () => {
    const { owner, org, member, tokens } = await memberInOrg('member');
    expect((await checkWrite(tokens.access_token, member)).data).to.deep.include({ allowed: true, organization_id: org.id, org_role: 'member' });
    await sdk.updateMember({ ...auth(owner), path: { org_id: org.id, user_id: member.user.id }, body: { role: 'viewer' } });
    expect((await verify(tokens.access_token)).data).to.deep.include({ org_role: 'viewer' });
    expect((await checkWrite(tokens.access_token, member)).data).to.deep.include({ allowed: false, org_role: 'viewer' });
    expect(decodeJwt((await refresh(tokens.refresh_token)).access_token)).to.include({ org_role: 'viewer' });
  });

  it('a removed member: verify and the permission check see it at once, the next refresh drops the organization, and rejoining does not bring it back', async () => {
    const { owner, org, member, tokens } = await memberInOrg('admin');
    await sdk.removeMember({ ...auth(owner), path: { org_id: org.id, user_id: member.user.id } });

    const verified = await verify(tokens.access_token);
    expect(verified.response?.status).to.equal(200);
    expect(verified.data).to.not.have.any.keys('org_id', 'org_role');
    expect(verified.response!.headers.get('x-org-id')).to.equal(null);
    expect((await checkWrite(tokens.access_token, member)).data).to.deep.include({ allowed: false, reason: 'not_a_member', organization_id: org.id, org_role: null });

    await addMemberDirectly(app, org.id, member.user.id, 'admin');
    const next = await refresh(tokens.refresh_token);
    expect(decodeJwt(next.access_token)).to.not.have.any.keys('org_id', 'org_role');
    expect((await verify(tokens.access_token)).data).to.not.have.any.keys('org_id');
  });

  it('a deleted organization leaves every session at once', async () => {
    const { owner, member, tokens, org } = await memberInOrg('member');
    await sdk.deleteOrganization({ ...auth(owner), path: { org_id: org.id } });
    expect((await verify(tokens.access_token)).data).to.not.have.any.keys('org_id');
    expect(decodeJwt((await refresh(tokens.refresh_token)).access_token)).to.not.have.any.keys('org_id');
    expect((await checkWrite(tokens.access_token, member)).data).to.deep.include({ allowed: false, reason: 'not_a_member' });
  });

  it('after switching to another organization, a token of the first one no longer carries it', async () => {
    const { member, tokens: first } = await memberInOrg('member');
    const other = await createOrganization(app, member);
    const second = await switchTo({ ...member, session: { ...member.session, access_token: first.access_token } }, other.id);
    expect(decodeJwt(second.access_token)).to.include({ org_id: other.id, org_role: 'owner' });
    expect((await verify(first.access_token)).data).to.not.have.any.keys('org_id');
    expect((await verify(second.access_token)).data).to.deep.include({ org_id: other.id, org_role: 'owner' });
  });
});
