import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { actorTypesRepo } from '../../../src/identity/actor-types.repo.js';
import { expectProblem, loggedInUser, tokensOf, uniqueEmail } from '../../helpers/flows.js';
import { browserFor, frontendCallback, providerAccount, signInAndExchange, useOAuthWorld, type OAuthWorld, type TestProviderId } from '../../helpers/oauth.js';
import { phoneUser } from '../../helpers/phone.js';

/** The identities of a signed-in user: list, explicit link from the session, unlink (never the last way in). */
describe('external identities (list, link, unlink)', () => {
  let world: OAuthWorld;
  useOAuthWorld((started) => (world = started));

  function account(provider: TestProviderId, email = uniqueEmail(provider), verified = true): string {
    const login = `i-${randomUUID()}`;
    providerAccount(world, provider, login, { email, verified });
    return login;
  }

  /** A password account holding the world's actor type (which allows every provider). */
  async function passwordUser() {
    const user = await loggedInUser(world.app);
    await actorTypesRepo.grant(world.app.db, user.user.id, world.actorType);
    return user;
  }

  /** Starts a link as `token`, completes it at the provider as `login`, and returns the frontend callback's query. */
  async function linkAtProvider(token: string, provider: string, login: string, body: Partial<sdk.LinkIdentityRequest> = {}): Promise<URLSearchParams> {
    const started = await sdk.linkIdentity({ client: world.app.client, auth: token, path: { provider }, body: { redirect_uri: frontendCallback, ...body } });
    expect(started.error, JSON.stringify(started.error)).to.equal(undefined);
    const end = await browserFor(world).follow(started.data!.authorization_url, { stopAt: frontendCallback, login });
    return new URL(end.stoppedAt!).searchParams;
  }

  it('links an identity from a signed-in session; it then signs in to that account', async () => {
    const user = await passwordUser();
    // A different email at the provider: an explicit link does not depend on emails.
    const login = account('alpha', uniqueEmail('elsewhere'), false);
    const back = await linkAtProvider(user.session.access_token, 'alpha', login);
    const confirmed = await sdk.confirmIdentityLink({ client: world.app.client, auth: user.session.access_token, body: { code: back.get('code')! } });
    expect(confirmed.response!.status, JSON.stringify(confirmed.error)).to.equal(201);
    expect(confirmed.data).to.deep.include({ provider: 'alpha', provider_type: 'oidc', email_verified: false });
    const listed = await sdk.listIdentities({ client: world.app.client, auth: user.session.access_token });
    expect(listed.data!.items.map((i) => i.id)).to.deep.equal([confirmed.data!.id]);
    const signedIn = tokensOf(await signInAndExchange(world, browserFor(world), 'alpha', login, { actor_type: world.actorType }));
    expect(signedIn.user.id).to.equal(user.user.id);
    const events = await world.app.db('audit_logs').where({ user_id: user.user.id, event: 'identity.linked' }).pluck('details');
    expect(events).to.deep.equal([{ provider: 'alpha', automatic: false }]);
  });

  it("a link code is refused to another account's bearer (a forwarded link attaches nothing), and works once", async () => {
    const starter = await passwordUser();
    const other = await passwordUser();
    const back = await linkAtProvider(starter.session.access_token, 'github', account('github'));
    expectProblem(await sdk.confirmIdentityLink({ client: world.app.client, auth: other.session.access_token, body: { code: back.get('code')! } }), 403, 'identity_link_mismatch');
    expectProblem(await sdk.confirmIdentityLink({ client: world.app.client, auth: starter.session.access_token, body: { code: back.get('code')! } }), 400, 'oauth_code_invalid');
    expect((await sdk.listIdentities({ client: world.app.client, auth: other.session.access_token })).data!.items).to.deep.equal([]);
  });

  it('a sign-in code cannot confirm a link, nor a link code sign in', async () => {
    const user = await passwordUser();
    const back = await linkAtProvider(user.session.access_token, 'google', account('google'));
    expectProblem(await sdk.exchangeOAuthCode({ client: world.app.client, body: { code: back.get('code')! } }), 400, 'oauth_code_invalid');
  });

  it('an identity linked to another account is refused (identity_already_linked)', async () => {
    const login = account('beta');
    tokensOf(await signInAndExchange(world, browserFor(world), 'beta', login, { actor_type: world.actorType }));
    const user = await passwordUser();
    const back = await linkAtProvider(user.session.access_token, 'beta', login);
    expect(back.get('error')).to.equal('identity_already_linked');
  });

  it('linking checks the allow-list and the actor-type policy', async () => {
    const user = await passwordUser();
    expectProblem(await sdk.linkIdentity({ client: world.app.client, auth: user.session.access_token, path: { provider: 'alpha' }, body: { redirect_uri: 'https://evil.example/' } }), 400, 'redirect_uri_not_allowed');
    const citizen = await loggedInUser(world.app);
    expectProblem(await sdk.linkIdentity({ client: world.app.client, auth: citizen.session.access_token, path: { provider: 'alpha' }, body: { redirect_uri: frontendCallback } }), 403, 'auth_method_not_allowed');
    expectProblem(await sdk.linkIdentity({ client: world.app.client, auth: user.session.access_token, path: { provider: 'nope' }, body: { redirect_uri: frontendCallback } }), 404, 'oauth_provider_not_found');
  });

  it('never unlinks the last way in: 409 last_sign_in_method without a password and another identity', async () => {
    const login = account('alpha');
    const answer = tokensOf(await signInAndExchange(world, browserFor(world), 'alpha', login, { actor_type: world.actorType }));
    const [only] = (await sdk.listIdentities({ client: world.app.client, auth: answer.access_token })).data!.items;
    expectProblem(await sdk.unlinkIdentity({ client: world.app.client, auth: answer.access_token, path: { identity_id: only!.id } }), 409, 'last_sign_in_method');

    const back = await linkAtProvider(answer.access_token, 'github', account('github'));
    const second = await sdk.confirmIdentityLink({ client: world.app.client, auth: answer.access_token, body: { code: back.get('code')! } });
    const removed = await sdk.unlinkIdentity({ client: world.app.client, auth: answer.access_token, path: { identity_id: only!.id } });
    expect(removed.response!.status, JSON.stringify(removed.error)).to.equal(204);
    expectProblem(await sdk.unlinkIdentity({ client: world.app.client, auth: answer.access_token, path: { identity_id: second.data!.id } }), 409, 'last_sign_in_method');
    expect((await sdk.listIdentities({ client: world.app.client, auth: answer.access_token })).data!.items.map((i) => i.provider)).to.deep.equal(['github']);
  });

  it('a verified phone is a way in while an actor type of the account allows sms: a phone-only account unlinks Google; barred from sms, it cannot', async () => {
    /** A phone-only account (the default type, which allows sms) that may also use the world's providers, with Google linked. */
    async function phoneAccountWithGoogle() {
      const signedUp = await phoneUser(world.app);
      await actorTypesRepo.grant(world.app.db, signedUp.user.id, world.actorType);
      const back = await linkAtProvider(signedUp.session.access_token, 'google', account('google'));
      const linked = await sdk.confirmIdentityLink({ client: world.app.client, auth: signedUp.session.access_token, body: { code: back.get('code')! } });
      expect(linked.response!.status, JSON.stringify(linked.error)).to.equal(201);
      return { ...signedUp, identity: linked.data! };
    }
    const unlink = (token: string, identityId: string) => sdk.unlinkIdentity({ client: world.app.client, auth: token, path: { identity_id: identityId } });

    const phoneOnly = await phoneAccountWithGoogle();
    expect((await unlink(phoneOnly.session.access_token, phoneOnly.identity.id)).response!.status).to.equal(204);
    expect((await sdk.listIdentities({ client: world.app.client, auth: phoneOnly.session.access_token })).data!.items).to.deep.equal([]);

    const barred = await phoneAccountWithGoogle();
    // Left with the world's type only, which does not allow sms: Google is its only way in.
    await actorTypesRepo.remove(world.app.db, barred.user.id, 'citizen');
    expectProblem(await unlink(barred.session.access_token, barred.identity.id), 409, 'last_sign_in_method');
    expect((await sdk.listIdentities({ client: world.app.client, auth: barred.session.access_token })).data!.items.map((i) => i.id)).to.deep.equal([barred.identity.id]);
  });

  it('a user with a password can unlink their only identity; someone else\'s is 404', async () => {
    const user = await passwordUser();
    const back = await linkAtProvider(user.session.access_token, 'alpha', account('alpha'));
    const linked = (await sdk.confirmIdentityLink({ client: world.app.client, auth: user.session.access_token, body: { code: back.get('code')! } })).data!;
    const stranger = await passwordUser();
    expectProblem(await sdk.unlinkIdentity({ client: world.app.client, auth: stranger.session.access_token, path: { identity_id: linked.id } }), 404, 'identity_not_found');
    expect((await sdk.unlinkIdentity({ client: world.app.client, auth: user.session.access_token, path: { identity_id: linked.id } })).response!.status).to.equal(204);
    expect((await sdk.listIdentities({ client: world.app.client, auth: user.session.access_token })).data!.items).to.deep.equal([]);
    const audit = await world.app.db('audit_logs').where({ user_id: user.user.id, event: 'identity.unlinked' }).first();
    expect(audit.details).to.deep.equal({ provider: 'alpha' });
  });

  it('the identity operations need a bearer token', async () => {
    expectProblem(await sdk.listIdentities({ client: world.app.client }), 401, 'authentication_required');
  });
});
