import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, latestMessage, loggedInUser, registerUser, strongPassword, tokensOf, uniqueEmail } from '../../helpers/flows.js';
import type { AuditRow } from '../../helpers/probes.js';
import { adminUser } from '../../helpers/rbac.js';

describe('guests and guest conversion', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const createGuest = (body?: sdk.GuestRequest) => sdk.createGuest({ client: app.client, body });
  const getUser = (token: string, userId: string) => sdk.getUser({ client: app.client, auth: token, path: { user_id: userId } });
  const quotasOf = (token: string, userId: string) => sdk.listQuotas({ client: app.client, auth: token, path: { user_id: userId } });
  const refresh = (token: string) => sdk.refreshToken({ client: app.client, body: { refresh_token: token } });
  const convert = (token: string, userId: string, body: Partial<sdk.ConvertGuestRequest>) =>
    sdk.convertGuest({ client: app.client, auth: token, path: { user_id: userId }, body: body as sdk.ConvertGuestRequest });

  function conversionBody(overrides: Partial<sdk.ConvertGuestRequest> = {}): sdk.ConvertGuestRequest {
    return { email: uniqueEmail('converted'), password: strongPassword, password_confirm: strongPassword, accept_terms: true, first_name: 'Marie', last_name: 'Curie', ...overrides };
  }

  async function guest(body: sdk.GuestRequest = { device_id: `device-${randomUUID()}` }): Promise<sdk.GuestSession> {
    const { data, error, response } = await createGuest(body);
    expect(response?.status, JSON.stringify(error)).to.equal(201);
    return data!;
  }

  async function auditOf(userId: string, event: string): Promise<AuditRow[]> {
    return app.db('audit_logs').where({ user_id: userId, event }).orderBy('created_at');
  }

  /** What a failed conversion must leave as it was. */
  async function guestState(userId: string) {
    const user = await app.db('users').where({ id: userId }).first('email', 'password_hash', 'is_guest', 'status', 'first_name');
    const actorTypes = (await app.db('user_actor_types').where({ user_id: userId }).select('actor_type')).map((r: { actor_type: string }) => r.actor_type);
    const roles = (await app.db('user_roles as ur').join('roles as r', 'r.id', 'ur.role_id').where('ur.user_id', userId).select('r.name')).map((r: { name: string }) => r.name);
    return { user, actorTypes, roles };
  }

  describe('creation', () => {
    it('creates a guest with role guest, 5 renewable watch_ad quiz_plays and a token saying so', async () => {
      const deviceId = `device-${randomUUID()}`;
      const session = await guest({ device_id: deviceId, locale: 'fr' });
      expect(session).to.include({ token_type: 'Bearer', expires_in: 1800 });
      expect(session.refresh_token).to.be.a('string');
      expect(session.user).to.deep.include({
        email: null,
        phone: null,
        is_guest: true,
        status: 'active',
        language: 'fr',
        email_verified: false,
        actor_types: ['guest'],
        plan: 'free',
        metadata: {},
      });
      expect(session.user.roles.map((r) => ({ name: r.name, priority: r.priority, expires_at: r.expires_at }))).to.deep.equal([{ name: 'guest', priority: 0, expires_at: null }]);
      expect(session.quotas).to.have.length(1);
      expect(session.quotas[0]).to.deep.include({
        quota_type: 'quiz_plays',
        max_allowed: 5,
        current_usage: 0,
        remaining: 5,
        period_type: null,
        can_renew: true,
        renew_action: 'watch_ad',
        renewed_at: null,
      });

      const claims = decodeJwt(session.access_token);
      expect(claims).to.deep.include({ sub: session.user.id, is_guest: true, actor_type: 'guest', amr: [], roles: ['guest'], permissions: ['quiz:play:free'], plan: 'free', device_id: deviceId });

      const stored = await app.db('users').where({ id: session.user.id }).first();
      expect(stored).to.include({ email: null, password_hash: null, is_guest: true, status: 'active' });
      const sessionRow = await app.db('sessions').where({ id: claims.sid }).first();
      expect(sessionRow).to.include({ auth_method: 'guest', actor_type: 'guest', device_id: deviceId });
      // Guests keep their session: 30 days, the guest actor type's duration.
      expect(sessionRow.expires_at.getTime() - app.clock.now().getTime()).to.equal(2_592_000_000);
      const [created] = await auditOf(session.user.id, 'guest.created');
      expect(created?.details).to.deep.equal({ device_id: deviceId });
    });

    it('works without a body: language en, no device id in the token, and the tokens work and refresh', async () => {
      const { data, response, error } = await sdk.createGuest({ client: app.client });
      expect(response?.status, JSON.stringify(error)).to.equal(201);
      expect(data!.user.language).to.equal('en');
      expect(decodeJwt(data!.access_token)).to.not.have.property('device_id');
      const read = await getUser(data!.access_token, data!.user.id);
      expect(read.response?.status).to.equal(200);
      expect(read.data).to.deep.equal(data!.user);
      const refreshed = await refresh(data!.refresh_token);
      expect(refreshed.response?.status, JSON.stringify(refreshed.error)).to.equal(200);
      expect(decodeJwt(refreshed.data!.access_token)).to.include({ sub: data!.user.id, is_guest: true });
    });

    it('answers 403 auth_method_not_allowed when the guest actor type no longer allows the guest method', async () => {
      const before = await app.db('actor_types').where({ name: 'guest' }).first('allowed_methods');
      await app.db('actor_types').where({ name: 'guest' }).update({ allowed_methods: ['password'] });
      try {
        const deviceId = `device-${randomUUID()}`;
        expectProblem(await createGuest({ device_id: deviceId }), 403, 'auth_method_not_allowed');
        expect(await app.db('sessions').where({ device_id: deviceId }).first()).to.equal(undefined);
      } finally {
        await app.db('actor_types').where({ name: 'guest' }).update({ allowed_methods: before.allowed_methods });
      }
      await guest();
    });
  });

  describe('conversion', () => {
    it('keeps the id and the quota usage, turns role guest into free and ends the guest session', async () => {
      const session = await guest();
      const id = session.user.id;
      const consumed = await sdk.consumeQuota({ client: app.client, auth: session.access_token, path: { user_id: id }, body: { quota_type: 'quiz_plays', amount: 2 } });
      expect(consumed.response?.status, JSON.stringify(consumed.error)).to.equal(200);
      await app.db('users').where({ id }).update({ metadata: { level: 3 } });

      const body = conversionBody({ email: uniqueEmail('New.Player'), language: 'es' });
      const { data, response, error } = await convert(session.access_token, id, body);
      expect(response?.status, JSON.stringify(error)).to.equal(200);
      const email = body.email.toLowerCase();
      expect(data!.user).to.deep.include({
        id,
        email,
        is_guest: false,
        status: 'active',
        email_verified: false,
        first_name: 'Marie',
        last_name: 'Curie',
        language: 'es',
        actor_types: ['citizen'],
        plan: 'free',
        metadata: { level: 3 },
      });
      expect(data!.user.roles.map((r) => r.name)).to.deep.equal(['free']);
      expect(decodeJwt(data!.access_token)).to.deep.include({ sub: id, is_guest: false, actor_type: 'citizen', amr: ['pwd'], roles: ['free'], plan: 'free', device_id: decodeJwt(session.access_token).device_id });

      // The guest's tokens are dead at once; the new ones work.
      expectProblem(await getUser(session.access_token, id), 401, 'session_revoked');
      expect((await refresh(session.refresh_token)).response?.status).to.equal(401);
      const read = await getUser(data!.access_token, id);
      expect(read.response?.status).to.equal(200);
      expect(read.data).to.deep.equal(data!.user);
      expect((await refresh(data!.refresh_token)).response?.status).to.equal(200);

      const quotas = await quotasOf(data!.access_token, id);
      expect(quotas.response?.status, JSON.stringify(quotas.error)).to.equal(200);
      expect(quotas.data!.items).to.have.length(1);
      expect(quotas.data!.items[0]).to.deep.include({ quota_type: 'quiz_plays', current_usage: 2, max_allowed: 20, remaining: 18, period_type: 'daily' });

      const newSession = await app.db('sessions').where({ id: decodeJwt(data!.access_token).sid }).first();
      expect(newSession).to.include({ auth_method: 'password', actor_type: 'citizen', user_id: id });
      const guestSession = await app.db('sessions').where({ id: decodeJwt(session.access_token).sid }).first();
      expect(guestSession.revoked_reason).to.equal('guest_converted');
      expect(await auditOf(id, 'guest.converted')).to.have.length(1);

      // A verification link is on its way, and the password works at once (the account is active).
      const message = await latestMessage(app, email);
      expect(message.template).to.equal('email_verification');
      const login = await sdk.login({ client: app.client, body: { email, password: strongPassword } });
      expect(tokensOf(login.data).user.id).to.equal(id);
      const verified = await sdk.verifyEmail({ client: app.client, body: { token: message.token! } });
      expect(verified.data).to.include({ id, email_verified: true, status: 'active' });
    });

    it('gives the requested self-signup type, and refuses a type that is not self-signup or does not allow passwords', async () => {
      const refused = await guest();
      for (const userType of ['agent', 'admin', 'guest', 'no_such_type']) {
        expectProblem(await convert(refused.access_token, refused.user.id, conversionBody({ user_type: userType })), 400, 'actor_type_not_allowed');
      }
      expect((await guestState(refused.user.id)).actorTypes).to.deep.equal(['guest']);

      const session = await guest();
      const { data, error } = await convert(session.access_token, session.user.id, conversionBody({ user_type: 'business' }));
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(data!.user.actor_types).to.deep.equal(['business']);
      expect(decodeJwt(data!.access_token).actor_type).to.equal('business');
    });

    it('refuses a self-signup type that requires 2FA (the answer has no room for an MFA challenge)', async () => {
      const name = `t-2fa-${randomUUID().slice(0, 8)}`;
      await app.db('actor_types').insert({ name, allowed_methods: ['password'], self_signup: true, require_2fa: true });
      try {
        const session = await guest();
        const problem = expectProblem(await convert(session.access_token, session.user.id, conversionBody({ user_type: name })), 400, 'actor_type_not_allowed');
        expect(problem.errors).to.deep.equal([{ path: '/body/user_type', message: 'requires 2FA' }]);
        expect((await guestState(session.user.id)).actorTypes).to.deep.equal(['guest']);
      } finally {
        await app.db('actor_types').where({ name }).delete();
      }
    });

    it('refuses input errors with 400 and changes nothing: weak password, mismatch, terms not accepted', async () => {
      const session = await guest();
      const before = await guestState(session.user.id);
      expectProblem(await convert(session.access_token, session.user.id, conversionBody({ password: 'password', password_confirm: 'password' })), 400, 'password_too_weak');
      expectProblem(await convert(session.access_token, session.user.id, conversionBody({ password: 'Marie-Curie-2026!', password_confirm: 'Marie-Curie-2026!' })), 400, 'password_too_weak');
      expectProblem(await convert(session.access_token, session.user.id, conversionBody({ password_confirm: `${strongPassword}x` })), 400, 'password_mismatch');
      expectProblem(await convert(session.access_token, session.user.id, conversionBody({ accept_terms: false })), 400, 'terms_not_accepted');
      expect(await guestState(session.user.id)).to.deep.equal(before);
      expect(before).to.deep.include({ actorTypes: ['guest'], roles: ['guest'] });
      expect((await getUser(session.access_token, session.user.id)).data).to.include({ is_guest: true, email: null });
      expect(await auditOf(session.user.id, 'guest.converted')).to.have.length(0);
    });

    it('answers 409 email_already_registered when a live account has the email, in any case', async () => {
      const { body } = await registerUser(app);
      const session = await guest();
      const before = await guestState(session.user.id);
      expectProblem(await convert(session.access_token, session.user.id, conversionBody({ email: body.email.toUpperCase() })), 409, 'email_already_registered');
      expect(await guestState(session.user.id)).to.deep.equal(before);
      expect((await getUser(session.access_token, session.user.id)).response?.status).to.equal(200);
    });

    it('answers 409 not_a_guest for a permanent account, and after a conversion', async () => {
      const { session, user } = await loggedInUser(app);
      expectProblem(await convert(session.access_token, user.id, conversionBody()), 409, 'not_a_guest');

      const converted = await guest();
      const { data } = await convert(converted.access_token, converted.user.id, conversionBody());
      expectProblem(await convert(data!.access_token, converted.user.id, conversionBody()), 409, 'not_a_guest');
    });

    it("answers 404 user_not_found for another user's id, even for an administrator", async () => {
      const first = await guest();
      const second = await guest();
      expectProblem(await convert(first.access_token, second.user.id, conversionBody()), 404, 'user_not_found');
      expectProblem(await convert(first.access_token, randomUUID(), conversionBody()), 404, 'user_not_found');
      const { session } = await adminUser(app);
      expectProblem(await convert(session.access_token, second.user.id, conversionBody()), 404, 'user_not_found');
      expect((await guestState(second.user.id)).user).to.include({ is_guest: true, email: null });
    });
  });
});
