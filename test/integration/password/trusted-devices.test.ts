import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { startTestApp, type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, registerUser, strongPassword, tokensOf, uniqueEmail } from '../../helpers/flows.js';
import { totpCodes } from '../../helpers/probes.js';

const wrongPassword = 'Wrong-Pass-2026!';

/**
 * The lockout is no denial-of-service tool: a device that signed in to the account before
 * (it holds the `device_token` of that sign-in) still signs in with the right password while
 * failed attempts from elsewhere keep the account locked; its own failures lock it too.
 */
describe('trusted devices and the lockout', () => {
  let app: TestApp;
  useTestApp((started) => (app = started), { env: { LOCKOUT_MAX_FAILURES: '3' } });
  const { codeAt, nextStep } = totpCodes(() => app);

  const login = (email: string, password: string, device_token?: string) => sdk.login({ client: app.client, body: { email, password, ...(device_token ? { device_token } : {}) } });
  const failTimes = async (email: string, times: number, device_token?: string) => {
    for (let i = 0; i < times; i++) expectProblem(await login(email, wrongPassword, device_token), 401, 'invalid_credentials');
  };

  it('a password sign-in returns a device token; while others locked the account, the device still signs in and the others stay out', async () => {
    const { body, session } = await loggedInUser(app);
    const deviceToken = session.device_token!;
    expect(deviceToken).to.match(/^[A-Za-z0-9_-]{43}$/);
    await failTimes(body.email, 3);
    expectProblem(await login(body.email, body.password), 403, 'account_locked');

    const owner = tokensOf((await login(body.email, body.password, deviceToken)).data);
    expect(owner.device_token).to.be.a('string').and.not.equal(deviceToken);
    // The lock others caused is not lifted by the owner's sign-in.
    expectProblem(await login(body.email, body.password), 403, 'account_locked');
    expectProblem(await login(body.email, wrongPassword), 403, 'account_locked');
  });

  it("a trusted device's own failures lock it, and the owner is emailed only for the account's lock", async () => {
    const { body, session } = await loggedInUser(app);
    await failTimes(body.email, 3);
    await failTimes(body.email, 3, session.device_token);
    expectProblem(await login(body.email, body.password, session.device_token), 403, 'account_locked');
    const notices = (await sdk.listDevOutbox({ client: app.client, query: { to: body.email } })).data!.items.filter((m) => m.template === 'account_locked');
    expect(notices).to.have.length(1);
  });

  it("is not trusted for another account, nor once the password was changed", async () => {
    const a = await loggedInUser(app);
    const b = await loggedInUser(app);
    await failTimes(b.body.email, 3);
    expectProblem(await login(b.body.email, b.body.password, a.session.device_token), 403, 'account_locked');

    const newPassword = 'Another-Pass-2027!';
    const changed = await sdk.changePassword({ client: app.client, auth: a.session.access_token, body: { old_password: a.body.password, new_password: newPassword, new_password_confirm: newPassword } });
    expect(changed.error, JSON.stringify(changed.error)).to.equal(undefined);
    await failTimes(a.body.email, 3);
    expectProblem(await login(a.body.email, newPassword, a.session.device_token), 403, 'account_locked');
  });

  it('a password sign-in finished with the second factor returns a device token that works the same', async () => {
    const { body, session } = await loggedInUser(app);
    const setup = (await sdk.enableTwoFactor({ client: app.client, auth: session.access_token })).data!;
    await sdk.confirmTwoFactor({ client: app.client, auth: session.access_token, body: { code: await codeAt(setup.secret) } });
    nextStep();
    const challenge = (await login(body.email, body.password)).data as sdk.MfaChallenge;
    expect(challenge).to.not.have.property('device_token');
    const verified = (await sdk.verifyTwoFactor({ client: app.client, body: { mfa_token: challenge.mfa_token, code: await codeAt(setup.secret) } })).data!;
    expect(verified.device_token).to.be.a('string');
    await failTimes(body.email, 3);
    nextStep();
    const again = (await login(body.email, body.password, verified.device_token)).data as sdk.MfaChallenge;
    expect(again.mfa_required).to.equal(true);
  });

  it('treats an unknown device token like none, and refuses a malformed one as an input error', async () => {
    const { body } = await registerUser(app, { email: uniqueEmail('locked') });
    await failTimes(body.email, 3);
    expectProblem(await login(body.email, strongPassword, 'A'.repeat(43)), 403, 'account_locked');
    expectProblem(await login(body.email, strongPassword, 'short'), 400, 'validation_failed');
  });
});

describe('the per-email login limit counts failures only', () => {
  let app: TestApp;
  useTestApp((started) => (app = started), { env: { RATE_LIMIT_LOGIN_EMAIL: '3/15m' } });

  const login = (email: string, password: string, device_token?: string) => sdk.login({ client: app.client, body: { email, password, ...(device_token ? { device_token } : {}) } });

  it('signing in many times in a row is never limited', async () => {
    const { body } = await loggedInUser(app);
    for (let i = 0; i < 6; i++) tokensOf((await login(body.email, body.password)).data);
  });

  it('failures are: the 4th attempt after 3 failures gets 429, except from a device that signed in before', async () => {
    const { body, session } = await loggedInUser(app);
    for (let i = 0; i < 3; i++) expectProblem(await login(body.email, wrongPassword), 401, 'invalid_credentials');
    expectProblem(await login(body.email, body.password), 429, 'rate_limited');
    tokensOf((await login(body.email, body.password, session.device_token)).data);
  });
});

describe('a trusted device under both limits on two instances', () => {
  it('is trusted by every instance (PostgreSQL holds the trust)', async () => {
    const a = await startTestApp({ env: { LOCKOUT_MAX_FAILURES: '2' } });
    const b = await startTestApp({ env: { LOCKOUT_MAX_FAILURES: '2' }, clock: a.clock });
    try {
      const { body, session } = await loggedInUser(a);
      for (let i = 0; i < 2; i++) await sdk.login({ client: a.client, body: { email: body.email, password: wrongPassword } });
      expectProblem(await sdk.login({ client: b.client, body: { email: body.email, password: body.password } }), 403, 'account_locked');
      tokensOf((await sdk.login({ client: b.client, body: { email: body.email, password: body.password, device_token: session.device_token } })).data);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
