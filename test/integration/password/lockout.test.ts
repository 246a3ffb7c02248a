import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { startTestApp, type TestApp, useTestApp } from '../../helpers/app.js';
import { countVerifications } from '../../helpers/probes.js';
import { expectProblem, loggedInUser, registerUser, strongPassword, tokensOf, uniqueEmail } from '../../helpers/flows.js';

const wrongPassword = 'Wrong-Pass-2026!';

describe('account lockout', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const login = (email: string, password: string) => sdk.login({ client: app.client, body: { email, password } });
  const lockRow = (email: string) => app.db('login_lockouts').where({ identifier: email.toLowerCase() }).first();
  const templatesTo = async (to: string) => (await sdk.listDevOutbox({ client: app.client, query: { to } })).data!.items.map((m) => m.template);
  const auditCount = async (userId: string, event: string) => Number((await app.db('audit_logs').where({ user_id: userId, event }).count('* as n').first())!.n);

  async function failTimes(email: string, times: number) {
    for (let i = 0; i < times; i++) expectProblem(await login(email, wrongPassword), 401, 'invalid_credentials');
  }

  it('after 10 wrong passwords, even the right password gets 403 account_locked with Retry-After, and the owner is told once', async () => {
    const { body, user } = await loggedInUser(app);
    await failTimes(body.email, 10);
    const locked = await login(body.email, body.password);
    expectProblem(locked, 403, 'account_locked');
    expect(locked.response!.headers.get('retry-after')).to.equal('1800');
    expectProblem(await login(body.email, wrongPassword), 403, 'account_locked');

    expect((await templatesTo(body.email)).filter((t) => t === 'account_locked')).to.have.length(1);
    const [message] = (await sdk.listDevOutbox({ client: app.client, query: { to: body.email } })).data!.items;
    expect(message!.template).to.equal('account_locked');
    expect(message!.link).to.equal('http://app.sesame.test/reset-password');
    const until = new Date(app.clock.now().getTime() + 1800_000).toISOString().replace('T', ' ').slice(0, 16);
    expect(message!.body).to.contain(until);
    expect(await auditCount(user.id, 'account.locked')).to.equal(1);
    expect(await auditCount(user.id, 'login.failed')).to.equal(10);
  });

  it('counts down Retry-After, and once the lock ends the right password works and the count starts again', async () => {
    const { body } = await loggedInUser(app);
    await failTimes(body.email, 10);
    app.clock.advance(1799_000);
    const almost = await login(body.email, body.password);
    expectProblem(almost, 403, 'account_locked');
    expect(almost.response!.headers.get('retry-after')).to.equal('1');
    app.clock.advance(1000);
    tokensOf((await login(body.email, body.password)).data);
    expect(await lockRow(body.email)).to.include({ failures: 0, locked_until: null });
    // A fresh count: 9 more failures do not lock.
    await failTimes(body.email, 9);
    tokensOf((await login(body.email, body.password)).data);
  });

  it('20 parallel wrong passwords: at most 10 are checked (401), the others get 403 without a password check', async () => {
    const { body, user } = await loggedInUser(app);
    const verifications = countVerifications(app);
    let statuses: number[];
    try {
      statuses = (await Promise.all(Array.from({ length: 20 }, () => login(body.email, wrongPassword)))).map((r) => r.response!.status);
    } finally {
      verifications.restore();
    }
    const refused = statuses.filter((s) => s === 401).length;
    expect(refused).to.be.at.most(10);
    expect(statuses.filter((s) => s === 403)).to.have.length(20 - refused);
    expect(verifications.count).to.equal(refused);
    expect(await auditCount(user.id, 'login.failed')).to.equal(refused);
    expectProblem(await login(body.email, body.password), 403, 'account_locked');
  });

  it('a login that stops at an MFA challenge stays counted; a completed login resets the count', async () => {
    const { body, user } = await loggedInUser(app);
    await app.db('user_actor_types').insert({ user_id: user.id, actor_type: 'admin' }); // admin requires 2FA
    await failTimes(body.email, 4);
    const challenged = await login(body.email, body.password);
    expect(challenged.data).to.have.property('mfa_required', true);
    expect(await lockRow(body.email)).to.include({ failures: 5 });

    await app.db('user_actor_types').where({ user_id: user.id, actor_type: 'admin' }).delete();
    tokensOf((await login(body.email, body.password)).data);
    expect(await lockRow(body.email)).to.include({ failures: 0 });
  });

  it('a right password refused for the account state (email not verified) never counts as a failure', async () => {
    const { body } = await registerUser(app);
    for (let i = 0; i < 12; i++) expectProblem(await login(body.email, body.password), 403, 'email_not_verified');
    expect(await lockRow(body.email)).to.include({ failures: 0, locked_until: null });
  });

  it('an unknown email locks the same way, with the same answer, and no email is sent', async () => {
    const { body } = await loggedInUser(app);
    const unknown = uniqueEmail('nobody');
    await failTimes(body.email, 10);
    await failTimes(unknown, 10);
    const known = await login(body.email, body.password);
    const stranger = await login(unknown, strongPassword);
    const { request_id: _a, ...knownProblem } = expectProblem(known, 403, 'account_locked');
    const { request_id: _b, ...unknownProblem } = expectProblem(stranger, 403, 'account_locked');
    expect(unknownProblem).to.deep.equal(knownProblem);
    expect(stranger.response!.headers.get('retry-after')).to.equal(known.response!.headers.get('retry-after'));
    expect(await lockRow(unknown)).to.have.property('locked_until').that.is.instanceOf(Date);
    expect(await templatesTo(unknown)).to.deep.equal([]);
  });

  it('a count left at the limit without a lock (attempts that never finished) locks, then goes stale after the lock duration', async () => {
    const { body } = await loggedInUser(app);
    await app.db('login_lockouts').where({ identifier: body.email }).update({ failures: 10, locked_until: null, updated_at: app.clock.now() });
    const locked = await login(body.email, body.password);
    expectProblem(locked, 403, 'account_locked');
    expect(locked.response!.headers.get('retry-after')).to.equal('1800');
    app.clock.advance(1800_000);
    tokensOf((await login(body.email, body.password)).data);
    expect(await lockRow(body.email)).to.include({ failures: 0, locked_until: null });
  });

  it('honours LOCKOUT_MAX_FAILURES and LOCKOUT_DURATION_SECONDS', async () => {
    const strict = await startTestApp({ env: { LOCKOUT_MAX_FAILURES: '3', LOCKOUT_DURATION_SECONDS: '60' } });
    try {
      const { body } = await loggedInUser(strict);
      const attempt = (password: string) => sdk.login({ client: strict.client, body: { email: body.email, password } });
      for (let i = 0; i < 3; i++) expectProblem(await attempt(wrongPassword), 401, 'invalid_credentials');
      const locked = await attempt(body.password);
      expectProblem(locked, 403, 'account_locked');
      expect(locked.response!.headers.get('retry-after')).to.equal('60');
      strict.clock.advance(60_000);
      tokensOf((await attempt(body.password)).data);
    } finally {
      await strict.close();
    }
  });
});
