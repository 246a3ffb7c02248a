import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { actorTypesRepo } from '../../../src/identity/actor-types.repo.js';
import { createCustomActorType, removeCustomActorTypesAfter } from '../../helpers/actor-types.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, tokensOf } from '../../helpers/flows.js';
import { totpCodes, type AuditRow } from '../../helpers/probes.js';
import { adminUser } from '../../helpers/rbac.js';

describe('POST /auth/switch-actor', () => {
  let app: TestApp;
  let adminToken: string;
  const created: string[] = [];
  const { codeAt, nextStep } = totpCodes(() => app);

  const customType = (overrides: Partial<sdk.ActorTypePolicy> = {}) => createCustomActorType(app, adminToken, created, overrides);
  const switchTo = (token: string, actorType: string) => sdk.switchActor({ client: app.client, auth: token, body: { actor_type: actorType } });
  const profileWith = (token: string) => sdk.getProfile({ client: app.client, auth: token });
  const sessionRow = (token: string) => app.db('sessions').where({ id: decodeJwt(token).sid }).first();
  async function switched(token: string, actorType: string): Promise<sdk.TokenPair> {
    const { data, error, response } = await switchTo(token, actorType);
    expect(error, JSON.stringify(error)).to.equal(undefined);
    expect(response?.status).to.equal(200);
    return data!;
  }

  removeCustomActorTypesAfter(() => app, created);
  useTestApp((started) => (app = started));
  before(async () => {
    adminToken = (await adminUser(app)).session.access_token;
  });

  it('opens a session acting as the target with the same method, ends the current one, and audits the switch', async () => {
    const target = await customType();
    const { user, session, body } = await loggedInUser(app, {}, { remember_me: false, device: { name: 'Jean’s phone', type: 'mobile' } });
    await actorTypesRepo.grant(app.db, user.id, target);
    const old = await sessionRow(session.access_token);
    app.clock.advance(60_000);

    const tokens = await switched(session.access_token, target);
    expect(tokens.token_type).to.equal('Bearer');
    const claims = decodeJwt(tokens.access_token);
    expect(claims).to.include({ sub: user.id, actor_type: target });
    expect(claims.amr).to.deep.equal(['pwd']);
    expect(claims.sid).to.not.equal(old.id);
    expect((await profileWith(tokens.access_token)).response?.status).to.equal(200);

    // The old session is dead, at once and for its refresh token too.
    expectProblem(await profileWith(session.access_token), 401, 'session_revoked');
    expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: session.refresh_token } }), 401, 'session_revoked');
    expect(await app.db('sessions').where({ id: old.id }).first('revoked_reason')).to.deep.equal({ revoked_reason: 'actor_switched' });

    // Same method and device; a remember_me: false session (24 h) is not stretched by the switch.
    const fresh = await sessionRow(tokens.access_token);
    expect(fresh).to.include({ actor_type: target, auth_method: 'password', device_name: 'Jean’s phone', device_type: 'mobile' });
    expect(fresh.expires_at.getTime()).to.equal(old.expires_at.getTime());

    const audit: AuditRow | undefined = await app.db('audit_logs').where({ event: 'actor.switched', user_id: user.id }).first();
    expect(audit?.session_id).to.equal(old.id);
    expect(audit?.details).to.deep.equal({ from: 'citizen', to: target });
    const emails = await sdk.listDevOutbox({ client: app.client, query: { to: body.email } });
    expect(emails.data!.items.filter((m) => m.template === 'new_device_sign_in')).to.deep.equal([]);

    // And back again: the refreshed pair of the new session works.
    const refreshed = await sdk.refreshToken({ client: app.client, body: { refresh_token: tokens.refresh_token } });
    expect(refreshed.error, JSON.stringify(refreshed.error)).to.equal(undefined);
    expect(decodeJwt(refreshed.data!.access_token).actor_type).to.equal(target);
    const back = await switched(refreshed.data!.access_token, 'citizen');
    expect(decodeJwt(back.access_token).actor_type).to.equal('citizen');
  });

  it('a type the user does not hold: 403 actor_type_not_held, and the session stays', async () => {
    const notHeld = await customType();
    const { session } = await loggedInUser(app);
    expectProblem(await switchTo(session.access_token, notHeld), 403, 'actor_type_not_held');
    expectProblem(await switchTo(session.access_token, 'admin'), 403, 'actor_type_not_held');
    expect((await profileWith(session.access_token)).response?.status).to.equal(200);
  });

  it('a target that does not allow the session’s method: 403 reauth_required, and the session stays', async () => {
    const smsOnly = await customType({ allowed_methods: ['sms'] });
    const { user, session } = await loggedInUser(app);
    await actorTypesRepo.grant(app.db, user.id, smsOnly);
    expectProblem(await switchTo(session.access_token, smsOnly), 403, 'reauth_required');
    expect((await profileWith(session.access_token)).response?.status).to.equal(200);
    expect(await app.db('audit_logs').where({ event: 'actor.switched', user_id: user.id }).first()).to.equal(undefined);
  });

  it('a target requiring 2FA from a session without a second factor: 403 reauth_required', async () => {
    const strict = await customType({ require_2fa: true });
    const { user, session } = await loggedInUser(app);
    await actorTypesRepo.grant(app.db, user.id, strict); // granted after a password-only login
    expectProblem(await switchTo(session.access_token, strict), 403, 'reauth_required');
    expect((await profileWith(session.access_token)).response?.status).to.equal(200);
  });

  it('a target requiring 2FA from a session signed in with a second factor: switched, keeping amr', async () => {
    const strict = await customType({ require_2fa: true });
    const { user, session, body } = await loggedInUser(app);
    const setup = await sdk.enableTwoFactor({ client: app.client, auth: session.access_token });
    const confirmed = await sdk.confirmTwoFactor({ client: app.client, auth: session.access_token, body: { code: await codeAt(setup.data!.secret) } });
    expect(confirmed.error, JSON.stringify(confirmed.error)).to.equal(undefined);
    nextStep();
    const challenge = await sdk.login({ client: app.client, body: { email: body.email, password: body.password } });
    const verified = await sdk.verifyTwoFactor({ client: app.client, body: { mfa_token: (challenge.data as sdk.MfaChallenge).mfa_token, code: await codeAt(setup.data!.secret) } });
    expect(verified.error, JSON.stringify(verified.error)).to.equal(undefined);
    const withOtp = tokensOf(verified.data);
    await actorTypesRepo.grant(app.db, user.id, strict);

    const tokens = await switched(withOtp.access_token, strict);
    expect(decodeJwt(tokens.access_token)).to.deep.include({ actor_type: strict, amr: ['pwd', 'otp'] });
  });

  it('needs a live session: 401 without a token, and after the session was switched away', async () => {
    const target = await customType();
    const { user, session } = await loggedInUser(app);
    await actorTypesRepo.grant(app.db, user.id, target);
    expectProblem(await sdk.switchActor({ client: app.client, body: { actor_type: target } }), 401, 'authentication_required');
    await switched(session.access_token, target);
    expectProblem(await switchTo(session.access_token, target), 401, 'session_revoked');
  });
});
