import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { loggedInUser, registerBody, registerUser, uniqueEmail } from '../../helpers/flows.js';
import { statementsOf } from '../../helpers/statements.js';

/**
 * Requests whose answer must not tell whether an account exists also cost the same: a known and
 * an unknown email run the very same SQL statements (only the rows they write differ), so their
 * timing tells nothing either (npm run bench prints the timings).
 */
describe('known and unknown accounts cost the same statements', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const shapeOf = async (send: () => Promise<{ response?: Response }>, status: number) => {
    const { result, statements } = await statementsOf(app.db, send);
    expect(result.response?.status).to.equal(status);
    return statements;
  };

  it('password reset request: known, unknown, and past the hourly limit', async () => {
    const { body } = await registerUser(app);
    const reset = (email: string) => () => sdk.requestPasswordReset({ client: app.client, body: { email } });
    const known = await shapeOf(reset(body.email), 202);
    const unknown = await shapeOf(reset(uniqueEmail('nobody')), 202);
    expect(unknown).to.deep.equal(known);
    await reset(body.email)();
    await reset(body.email)();
    expect(await shapeOf(reset(body.email), 202)).to.deep.equal(known);
    expect(await app.db('password_reset_tokens').where({ user_id: (await app.db('users').where({ email: body.email }).first()).id })).to.have.length(3);
  });

  it('verification resend: pending, unknown, and already verified', async () => {
    const { body } = await registerUser(app);
    const verified = await loggedInUser(app);
    const resend = (email: string) => () => sdk.resendVerificationEmail({ client: app.client, body: { email } });
    const pending = await shapeOf(resend(body.email), 202);
    expect(await shapeOf(resend(uniqueEmail('nobody')), 202)).to.deep.equal(pending);
    expect(await shapeOf(resend(verified.body.email), 202)).to.deep.equal(pending);
  });

  it('registration: a new email and an existing one (the existing account is left as it was)', async () => {
    const taken = await registerUser(app);
    const before = await app.db('users').count<{ count: string }[]>('* as count').first();
    const fresh = await shapeOf(() => sdk.register({ client: app.client, body: registerBody() }), 201);
    const existing = await shapeOf(() => sdk.register({ client: app.client, body: registerBody({ email: taken.body.email }) }), 201);
    // The same statements but the end of the savepoint: kept for a new account, rolled back for the stand-in.
    expect(existing.map((s) => s.replace(/^ROLLBACK TO SAVEPOINT (\w+)$/, 'RELEASE SAVEPOINT $1;'))).to.deep.equal(fresh);
    const after = await app.db('users').count<{ count: string }[]>('* as count').first();
    expect(Number(after!.count) - Number(before!.count)).to.equal(1);
    expect(await app.db('users').where('email', 'like', '%@sesame.invalid')).to.deep.equal([]);
  });
});

describe('registering an existing email does not bomb its owner', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  it('20 registrations of an existing email send its owner one notice an hour, and the answer stays the same', async () => {
    const { body } = await registerUser(app);
    for (let i = 0; i < 20; i++) {
      const answer = await sdk.register({ client: app.client, body: registerBody({ email: body.email }) });
      expect(answer.response?.status).to.equal(201);
      expect(answer.data!.user.email).to.equal(body.email);
    }
    const notices = () => app.db('outbox_messages').where({ recipient: body.email, template: 'account_exists' });
    expect(await notices()).to.have.length(1);
    app.clock.advance(3600 * 1000 + 1);
    await sdk.register({ client: app.client, body: registerBody({ email: body.email }) });
    expect(await notices()).to.have.length(2);
  });
});
