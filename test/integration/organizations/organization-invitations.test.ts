import { createHash } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, latestMessage, loggedInUser, registerUser, tokensOf, uniqueEmail } from '../../helpers/flows.js';
import { createOrganization, invite, memberWithRole, storedRoles, type SignedIn } from '../../helpers/organizations.js';
import type { AuditRow } from '../../helpers/probes.js';

const sevenDays = 7 * 24 * 3600 * 1000;

describe('organization invitations', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));
  const auth = (u: SignedIn) => ({ client: app.client, auth: u.session.access_token });
  const accept = (u: SignedIn, token: string) => sdk.acceptInvitation({ ...auth(u), body: { token } });

  async function signInAgain(u: SignedIn): Promise<SignedIn> {
    const { data } = await sdk.login({ client: app.client, body: { email: u.body.email, password: u.body.password } });
    return { ...u, session: tokensOf(data) };
  }

  async function orgWithOwner() {
    const owner = await loggedInUser(app);
    return { owner, org: await createOrganization(app, owner, { name: 'Épicerie Martin' }) };
  }

  describe('sending', () => {
    it('emails a single-use link through the outbox, in the invitee account language; only the hash is stored', async () => {
      const { owner, org } = await orgWithOwner();
      const invitee = await loggedInUser(app, { language: 'es' });
      const { invitation, token } = await invite(app, owner, org.id, invitee.body.email.toUpperCase(), 'viewer');
      expect(invitation).to.deep.include({ organization_id: org.id, email: invitee.body.email, role: 'viewer', status: 'pending', invited_by: owner.user.id, responded_at: null });
      expect(new Date(invitation.expires_at).getTime() - new Date(invitation.created_at).getTime()).to.equal(sevenDays);

      const message = await latestMessage(app, invitee.body.email);
      expect(message.subject).to.equal('Jean Dupont le invita a unirse a Épicerie Martin');
      expect(message.link).to.equal(`http://app.sesame.test/accept-invitation?token=${token}`);
      const stored = await app.db('organization_invitations').where({ id: invitation.id }).first('token_hash');
      expect(stored.token_hash).to.equal(createHash('sha256').update(token).digest('hex'));
      expect(JSON.stringify(await app.db('organization_invitations').where({ id: invitation.id }).first())).to.not.include(token);
      expect(JSON.stringify(invitation)).to.not.include(token);
    });

    it('an address without an account gets the language asked for, else the inviter’s', async () => {
      const { owner, org } = await orgWithOwner();
      const asked = uniqueEmail('new');
      await sdk.createInvitation({ ...auth(owner), path: { org_id: org.id }, body: { email: asked, role: 'member', language: 'en' } });
      expect((await latestMessage(app, asked)).subject).to.equal('Jean Dupont invites you to join Épicerie Martin');
      const defaulted = uniqueEmail('new');
      await sdk.createInvitation({ ...auth(owner), path: { org_id: org.id }, body: { email: defaulted, role: 'member' } });
      expect((await latestMessage(app, defaulted)).subject).to.equal('Jean Dupont vous invite à rejoindre Épicerie Martin');
    });

    it('one pending invitation per email and organization (409), even for two invitations sent at once; a member is 409 already_member', async () => {
      const { owner, org } = await orgWithOwner();
      const email = uniqueEmail('twice');
      const both = await Promise.all([1, 2].map(() => sdk.createInvitation({ ...auth(owner), path: { org_id: org.id }, body: { email, role: 'member' } })));
      expect(both.map((r) => r.response?.status).sort()).to.deep.equal([201, 409]);
      expectProblem(both.find((r) => r.response?.status === 409)!, 409, 'invitation_pending');
      expectProblem(await sdk.createInvitation({ ...auth(owner), path: { org_id: org.id }, body: { email: owner.body.email, role: 'admin' } }), 409, 'already_member');
      // Another organization may invite the same address.
      const other = await createOrganization(app, owner);
      expect((await sdk.createInvitation({ ...auth(owner), path: { org_id: other.id }, body: { email, role: 'member' } })).response?.status).to.equal(201);
    });

    it('lists the invitations with their status; revoking one ends its link (and 404 for one no longer pending)', async () => {
      const { owner, org } = await orgWithOwner();
      const invitee = await loggedInUser(app);
      const { invitation, token } = await invite(app, owner, org.id, invitee.body.email);
      expect((await sdk.revokeInvitation({ ...auth(owner), path: { org_id: org.id, invitation_id: invitation.id } })).response?.status).to.equal(204);
      expectProblem(await accept(invitee, token), 400, 'invitation_invalid');
      expectProblem(await sdk.revokeInvitation({ ...auth(owner), path: { org_id: org.id, invitation_id: invitation.id } }), 404, 'invitation_not_found');
      const list = await sdk.listInvitations({ ...auth(owner), path: { org_id: org.id } });
      expect(list.data!.items.map((i) => [i.id, i.status])).to.deep.equal([[invitation.id, 'revoked']]);
      // Revoked, the address may be invited again.
      expect((await sdk.createInvitation({ ...auth(owner), path: { org_id: org.id }, body: { email: invitee.body.email, role: 'member' } })).response?.status).to.equal(201);
    });
  });

  describe('accepting: only the signed-in account whose verified email was invited', () => {
    it('the invitee joins with the invited role; the answer is the organization; audited', async () => {
      const { owner, org } = await orgWithOwner();
      const invitee = await loggedInUser(app);
      const { invitation, token } = await invite(app, owner, org.id, invitee.body.email, 'admin');
      const joined = await accept(invitee, token);
      expect(joined.data).to.deep.include({ id: org.id, name: org.name, role: 'admin' });
      expect(await storedRoles(app, org.id)).to.deep.include({ [invitee.user.id]: 'admin' });
      const row = await app.db('organization_invitations').where({ id: invitation.id }).first();
      expect(row).to.include({ status: 'accepted', accepted_by: invitee.user.id });
      const events = (await app.db('audit_logs').whereIn('event', ['organization.invitation_created', 'organization.invitation_accepted']).whereRaw(`details->>'invitation_id' = ?`, [invitation.id]).select('event', 'user_id')) as AuditRow[];
      expect(events.map((e) => [e.event, e.user_id]).sort()).to.deep.equal([
        ['organization.invitation_accepted', invitee.user.id],
        ['organization.invitation_created', owner.user.id],
      ]);
    });

    it('a new user registers from the link with the invited address, verifies it, signs in and accepts', async () => {
      const { owner, org } = await orgWithOwner();
      const email = uniqueEmail('newcomer');
      const { token } = await invite(app, owner, org.id, email, 'member');
      const registered = await registerUser(app, { email });
      await sdk.verifyEmail({ client: app.client, body: { token: registered.verificationToken } });
      const session = tokensOf((await sdk.login({ client: app.client, body: { email, password: registered.body.password } })).data);
      const joined = await sdk.acceptInvitation({ client: app.client, auth: session.access_token, body: { token } });
      expect(joined.data!.role).to.equal('member');
      expect(await storedRoles(app, org.id)).to.deep.include({ [registered.user.id]: 'member' });
    });

    it('another account is refused (403 invitation_email_mismatch) and the invitation stays valid for its owner', async () => {
      const { owner, org } = await orgWithOwner();
      const invitee = await loggedInUser(app);
      const intruder = await loggedInUser(app);
      const { token } = await invite(app, owner, org.id, invitee.body.email);
      expectProblem(await accept(intruder, token), 403, 'invitation_email_mismatch');
      expect(await storedRoles(app, org.id)).to.not.have.property(intruder.user.id);
      expect((await accept(invitee, token)).response?.status).to.equal(200);
    });

    it('an account with the invited address but no verified email cannot accept (403 email_not_verified)', async () => {
      const { owner, org } = await orgWithOwner();
      const invitee = await loggedInUser(app);
      const { token } = await invite(app, owner, org.id, invitee.body.email);
      await app.db('users').where({ id: invitee.user.id }).update({ email_verified_at: null });
      expectProblem(await accept(invitee, token), 403, 'email_not_verified');
      expect(await storedRoles(app, org.id)).to.not.have.property(invitee.user.id);
    });

    it('a token works once: reused it is 400 invitation_invalid, even by its owner after leaving', async () => {
      const { owner, org } = await orgWithOwner();
      const invitee = await loggedInUser(app);
      const { token } = await invite(app, owner, org.id, invitee.body.email);
      const both = await Promise.all([accept(invitee, token), accept(invitee, token)]);
      expect(both.map((r) => r.response?.status).sort()).to.deep.equal([200, 400]);
      await sdk.removeMember({ ...auth(invitee), path: { org_id: org.id, user_id: invitee.user.id } });
      expectProblem(await accept(invitee, token), 400, 'invitation_invalid');
    });

    it('after 7 days it is 400 invitation_expired, and the address can be invited again', async () => {
      const { owner, org } = await orgWithOwner();
      const invitee = await loggedInUser(app);
      const { token } = await invite(app, owner, org.id, invitee.body.email);
      app.clock.advance(sevenDays);
      // A week later both sign in again (their sessions ended too).
      const [ownerNow, inviteeNow] = await Promise.all([owner, invitee].map(signInAgain));
      expectProblem(await accept(inviteeNow!, token), 400, 'invitation_expired');
      expectProblem(await sdk.declineInvitation({ client: app.client, body: { token } }), 400, 'invitation_expired');
      const again = await invite(app, ownerNow!, org.id, invitee.body.email);
      expect((await accept(inviteeNow!, again.token)).response?.status).to.equal(200);
    });

    it('an unknown token and a deleted organization’s invitation are 400 invitation_invalid', async () => {
      const { owner, org } = await orgWithOwner();
      const invitee = await loggedInUser(app);
      expectProblem(await accept(invitee, 'A'.repeat(43)), 400, 'invitation_invalid');
      const { token } = await invite(app, owner, org.id, invitee.body.email);
      await sdk.deleteOrganization({ ...auth(owner), path: { org_id: org.id } });
      expectProblem(await accept(invitee, token), 400, 'invitation_invalid');
    });

    it('declining needs only the token; the invitation then cannot be accepted', async () => {
      const { owner, org } = await orgWithOwner();
      const invitee = await loggedInUser(app);
      const { invitation, token } = await invite(app, owner, org.id, invitee.body.email);
      expect((await sdk.declineInvitation({ client: app.client, body: { token } })).response?.status).to.equal(204);
      expectProblem(await accept(invitee, token), 400, 'invitation_invalid');
      expect((await app.db('organization_invitations').where({ id: invitation.id }).first('status')).status).to.equal('declined');
      expect(await app.db('audit_logs').where({ user_id: invitee.user.id, event: 'organization.invitation_declined' }).first()).to.not.equal(undefined);
    });

    it('a member already in the organization is 409 already_member', async () => {
      const { owner, org } = await orgWithOwner();
      const invitee = await loggedInUser(app);
      const { token } = await invite(app, owner, org.id, invitee.body.email);
      await app.db('organization_members').insert({ organization_id: org.id, user_id: invitee.user.id, role: 'viewer', created_at: app.clock.now(), updated_at: app.clock.now() });
      expectProblem(await accept(invitee, token), 409, 'already_member');
    });
  });
});

describe('organization invitations: limits per organization and per inviter', () => {
  let app: TestApp;
  useTestApp((started) => (app = started), { env: { RATE_LIMIT_INVITATIONS_ORG: '2/1h', RATE_LIMIT_INVITATIONS_USER: '3/1h' } });
  const send = (u: SignedIn, orgId: string) => sdk.createInvitation({ client: app.client, auth: u.session.access_token, path: { org_id: orgId }, body: { email: uniqueEmail('lim'), role: 'member' } });

  it('an organization sends at most its limit (429 with Retry-After and RateLimit-*), whoever sends; strangers cannot spend it', async () => {
    const owner = await loggedInUser(app);
    const org = await createOrganization(app, owner);
    const admin = await memberWithRole(app, org.id, 'admin');
    const stranger = await loggedInUser(app);
    for (let i = 0; i < 3; i++) expectProblem(await send(stranger, org.id), 404, 'organization_not_found');
    expect((await send(owner, org.id)).response?.status).to.equal(201);
    expect((await send(admin, org.id)).response?.status).to.equal(201);
    const limited = await send(owner, org.id);
    expectProblem(limited, 429, 'rate_limited');
    expect(Number(limited.response!.headers.get('retry-after'))).to.be.greaterThan(0);
    expect(limited.response!.headers.get('ratelimit-limit')).to.equal('2');
  });

  it('an inviter sends at most their limit across organizations', async () => {
    const owner = await loggedInUser(app);
    const orgs = [await createOrganization(app, owner), await createOrganization(app, owner)];
    expect((await send(owner, orgs[0]!.id)).response?.status).to.equal(201);
    expect((await send(owner, orgs[0]!.id)).response?.status).to.equal(201);
    expect((await send(owner, orgs[1]!.id)).response?.status).to.equal(201);
    expectProblem(await send(owner, orgs[1]!.id), 429, 'rate_limited');
  });
});
