import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { actorTypesRepo } from '../../../src/identity/actor-types.repo.js';
import { firstFactorAmr, type AuthMethod } from '../../../src/identity/auth-method.js';
import type { SignInResult } from '../../../src/identity/sign-in.js';
import { usersRepo } from '../../../src/identity/users.repo.js';
import { createCustomActorType, removeCustomActorTypesAfter } from '../../helpers/actor-types.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser } from '../../helpers/flows.js';
import { totpCodes, type AuditRow } from '../../helpers/probes.js';
import { adminUser } from '../../helpers/rbac.js';

/**
 * The sign-in pipeline with a second method beside password: the test plugs in a sign-in method
 * of its own (an OpenID Connect provider `oidc:pipeline-test`, whose first factor the test
 * asserts) and drives it through the same `completeSignIn` every method uses.
 */
describe('sign-in pipeline', () => {
  let app: TestApp;
  const created: string[] = [];
  removeCustomActorTypesAfter(() => app, created);
  useTestApp((started) => (app = started));
  const { codeAt, nextStep } = totpCodes(() => app);
  const testMethod: AuthMethod = 'oidc:pipeline-test';

  /** The test's own sign-in method: its first factor is proven, so it hands the user to the pipeline. */
  async function signInWithTestMethod(userId: string, actorType: string): Promise<SignInResult> {
    const user = (await usersRepo.findLiveById(app.db, userId))!;
    return app.running.container.signIn.complete({
      user,
      method: testMethod,
      amr: firstFactorAmr(testMethod),
      actorType,
      rememberMe: true,
      device: { name: 'Test device', type: 'web' },
      context: { ip: '203.0.113.9', userAgent: 'pipeline-test-agent' },
    });
  }

  /** An active user with 2FA on, holding an actor type that allows password and the test method. */
  async function enrolledUserWithTestMethod() {
    const admin = await adminUser(app);
    const actorType = await createCustomActorType(app, admin.session.access_token, created, { allowed_methods: ['password', testMethod] });
    const account = await loggedInUser(app);
    await actorTypesRepo.grant(app.db, account.user.id, actorType);
    const setup = (await sdk.enableTwoFactor({ client: app.client, auth: account.session.access_token })).data!;
    const confirmed = await sdk.confirmTwoFactor({ client: app.client, auth: account.session.access_token, body: { code: await codeAt(setup.secret) } });
    expect(confirmed.error, JSON.stringify(confirmed.error)).to.equal(undefined);
    nextStep();
    return { admin, actorType, account, secret: setup.secret };
  }

  it('pauses a second-method sign-in at 2FA, then opens a session recording that method and its amr plus otp', async () => {
    const { actorType, account, secret } = await enrolledUserWithTestMethod();

    const paused = await signInWithTestMethod(account.user.id, actorType);
    expect(paused.kind).to.equal('challenge');
    const challenge = (paused as Extract<SignInResult, { kind: 'challenge' }>).challenge;
    expect(challenge.mfa_required).to.equal(true);
    expect(challenge.mfa_setup_required).to.equal(false);

    const { data, error } = await sdk.verifyTwoFactor({ client: app.client, body: { mfa_token: challenge.mfa_token, code: await codeAt(secret) } });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    const claims = decodeJwt(data!.access_token);
    expect(claims.amr).to.deep.equal(['ext', 'pipeline-test', 'otp']);
    expect(claims.actor_type).to.equal(actorType);

    const sessions = (await sdk.listSessions({ client: app.client, auth: data!.access_token })).data!.items;
    const current = sessions.find((s) => s.current)!;
    expect(current.auth_method).to.equal(testMethod);
    expect(current.amr).to.deep.equal(['ext', 'pipeline-test', 'otp']);
    expect(current).to.include({ device_name: 'Test device', device_type: 'web', ip: '203.0.113.9', user_agent: 'pipeline-test-agent' });

    const audit: AuditRow | undefined = await app.db('audit_logs').where({ session_id: current.id, event: 'login.succeeded' }).first();
    expect(audit?.details).to.include({ auth_method: testMethod, actor_type: actorType });
    expect(audit?.details.amr).to.deep.equal(['ext', 'pipeline-test', 'otp']);

    // Refresh checks the session's own method against the actor type: it is allowed, so it rotates.
    const refreshed = await sdk.refreshToken({ client: app.client, body: { refresh_token: data!.refresh_token } });
    expect(refreshed.error, JSON.stringify(refreshed.error)).to.equal(undefined);
    expect(decodeJwt(refreshed.data!.access_token).amr).to.deep.equal(['ext', 'pipeline-test', 'otp']);
  });

  it('ends at its next refresh a second-method session whose method the actor type no longer allows, while password sessions go on', async () => {
    const { admin, actorType, account, secret } = await enrolledUserWithTestMethod();
    const paused = (await signInWithTestMethod(account.user.id, actorType)) as Extract<SignInResult, { kind: 'challenge' }>;
    const viaTestMethod = (await sdk.verifyTwoFactor({ client: app.client, body: { mfa_token: paused.challenge.mfa_token, code: await codeAt(secret) } })).data!;

    const edited = await sdk.putActorType({
      client: app.client,
      auth: admin.session.access_token,
      path: { name: actorType },
      body: { allowed_methods: ['password'], self_signup: false, require_2fa: false, access_token_ttl: 1800, session_duration: 604800, allow_impersonation: false, priority: 10 },
    });
    expect(edited.error, JSON.stringify(edited.error)).to.equal(undefined);

    expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: viaTestMethod.refresh_token } }), 401, 'session_revoked');
    const passwordSession = await sdk.refreshToken({ client: app.client, body: { refresh_token: account.session.refresh_token } });
    expect(passwordSession.error, JSON.stringify(passwordSession.error)).to.equal(undefined);
  });

  it('refuses the method for an actor type that does not allow it, before any challenge or session', async () => {
    const admin = await adminUser(app);
    const passwordOnly = await createCustomActorType(app, admin.session.access_token, created, { allowed_methods: ['password'] });
    const account = await loggedInUser(app);
    await actorTypesRepo.grant(app.db, account.user.id, passwordOnly);
    const before = await app.db('sessions').where({ user_id: account.user.id }).count<{ count: string }[]>('* as count').first();
    let refused: unknown;
    await signInWithTestMethod(account.user.id, passwordOnly).catch((err: unknown) => (refused = err));
    expect(refused).to.have.property('code', 'actor_type_not_held');
    const after = await app.db('sessions').where({ user_id: account.user.id }).count<{ count: string }[]>('* as count').first();
    expect(after?.count).to.equal(before?.count);
    expect(await app.db('mfa_challenges').where({ user_id: account.user.id, auth_method: testMethod }).first()).to.equal(undefined);
  });
});
