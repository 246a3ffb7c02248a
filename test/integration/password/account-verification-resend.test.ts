import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, latestMessage, loggedInUser, registerUser, uniqueEmail } from '../../helpers/flows.js';

describe('verification email resend', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const resend = (email: string) => sdk.resendVerificationEmail({ client: app.client, body: { email } });
  const verificationEmails = async (email: string) => {
    const { data } = await sdk.listDevOutbox({ client: app.client, query: { to: email, limit: 100 } });
    return data!.items.filter((m) => m.template === 'email_verification');
  };

  it('sends a pending account a new link whose token verifies the address', async () => {
    const { body, verificationToken } = await registerUser(app);
    const { data, response } = await resend(body.email.toUpperCase());
    expect(response?.status).to.equal(202);
    expect(data).to.deep.equal({ message: 'If an account matches, a message has been sent to it.' });
    const message = await latestMessage(app, body.email);
    expect(message.template).to.equal('email_verification');
    expect(message.subject).to.equal('Confirmez votre adresse e-mail');
    expect(message.token).to.be.a('string').and.not.equal(verificationToken);
    const verified = await sdk.verifyEmail({ client: app.client, body: { token: message.token! } });
    expect(verified.data).to.include({ status: 'active', email_verified: true });
  });

  it('answers unknown, active and pending emails with the same 202 and body, and emails only the pending one', async () => {
    const pending = await registerUser(app);
    const active = await loggedInUser(app);
    const unknownEmail = uniqueEmail('nobody');
    const answers = await Promise.all([resend(pending.body.email), resend(active.body.email), resend(unknownEmail)]);
    expect(answers.map((a) => a.response?.status)).to.deep.equal([202, 202, 202]);
    expect(new Set(answers.map((a) => JSON.stringify(a.data))).size).to.equal(1);
    expect(await verificationEmails(pending.body.email)).to.have.length(2);
    expect(await verificationEmails(active.body.email)).to.have.length(1); // the registration's only
    expect((await sdk.listDevOutbox({ client: app.client, query: { to: unknownEmail } })).data!.items).to.deep.equal([]);
  });

  it('sends nothing to a suspended account', async () => {
    const { body, user } = await registerUser(app);
    await app.db('users').where({ id: user.id }).update({ status: 'suspended' });
    expect((await resend(body.email)).response?.status).to.equal(202);
    expect(await verificationEmails(body.email)).to.have.length(1);
  });

  it('sends at most 3 links an hour, the registration link included, then sends again an hour later', async () => {
    const { body } = await registerUser(app);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await resend(body.email));
    expect(answers.map((a) => a.response?.status)).to.deep.equal([202, 202, 202]);
    expect(new Set(answers.map((a) => JSON.stringify(a.data))).size).to.equal(1);
    expect(await verificationEmails(body.email)).to.have.length(3);
    app.clock.advance(3600 * 1000 + 1000);
    await resend(body.email);
    expect(await verificationEmails(body.email)).to.have.length(4);
  });

  it('refuses a malformed email with 400 validation_failed', async () => {
    expectProblem(await resend('not-an-email'), 400, 'validation_failed');
  });
});
