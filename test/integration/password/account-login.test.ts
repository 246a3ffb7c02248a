import { expect } from 'chai';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { startTestApp, type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, registerUser, strongPassword, tokensOf, uniqueEmail } from '../../helpers/flows.js';

describe('login, profile and logout', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  it('logs an active user in with an ES256 access token and an opaque refresh token', async () => {
    const { session, user, body } = await loggedInUser(app, {}, { device: { name: 'Test laptop', type: 'desktop' } });
    expect(session.token_type).to.equal('Bearer');
    expect(session.expires_in).to.equal(1800);
    expect(session.user).to.include({ id: user.id, email: body.email, status: 'active' });
    expect(session.refresh_token).to.match(/^[A-Za-z0-9_-]{43}$/);
    const header = decodeProtectedHeader(session.access_token);
    expect(header.alg).to.equal('ES256');
    expect(header.kid).to.be.a('string');
    const claims = decodeJwt(session.access_token);
    expect(claims).to.include({ iss: 'http://sesame.test', aud: 'sesame', sub: user.id, actor_type: 'citizen', status: 'active', is_guest: false });
    expect(claims.amr).to.deep.equal(['pwd']);
    expect(claims.exp! - claims.iat!).to.equal(1800);
    expect(claims.jti).to.be.a('string');
    expect(claims.sid).to.be.a('string');
    const stored = await app.db('sessions').where({ id: claims.sid }).first();
    expect(stored).to.include({ device_name: 'Test laptop', device_type: 'desktop', auth_method: 'password', ip: '127.0.0.1' });
    const refreshRows = await app.db('refresh_tokens').where({ session_id: claims.sid });
    expect(refreshRows).to.have.length(1);
    expect(refreshRows[0].token_hash).not.to.equal(session.refresh_token);
  });

  it('limits the session to 24 hours when remember_me is false, 7 days otherwise', async () => {
    const short = await loggedInUser(app, {}, { remember_me: false });
    const long = await loggedInUser(app);
    const lifetime = async (token: string) => {
      const row = await app.db('sessions').where({ id: decodeJwt(token).sid }).first();
      return (row.expires_at.getTime() - row.created_at.getTime()) / 1000;
    };
    expect(await lifetime(short.session.access_token)).to.equal(86_400);
    expect(await lifetime(long.session.access_token)).to.equal(604_800);
  });

  it('answers the same 401 invalid_credentials for a wrong password and an unknown email', async () => {
    const { body } = await loggedInUser(app);
    const wrong = expectProblem(await sdk.login({ client: app.client, body: { email: body.email, password: 'Wrong-Pass-2026!' } }), 401, 'invalid_credentials');
    const unknown = expectProblem(await sdk.login({ client: app.client, body: { email: uniqueEmail('nobody'), password: strongPassword } }), 401, 'invalid_credentials');
    const { request_id: _a, ...w } = wrong;
    const { request_id: _b, ...u } = unknown;
    expect(w).to.deep.equal(u);
  });

  it('refuses a pending user with 403 email_not_verified, but only with the right password', async () => {
    const { body } = await registerUser(app);
    expectProblem(await sdk.login({ client: app.client, body: { email: body.email, password: body.password } }), 403, 'email_not_verified');
    expectProblem(await sdk.login({ client: app.client, body: { email: body.email, password: 'Wrong-Pass-2026!' } }), 401, 'invalid_credentials');
  });

  it('refuses a suspended user with 403 account_suspended', async () => {
    const { body, user } = await loggedInUser(app);
    await app.db('users').where({ id: user.id }).update({ status: 'suspended' });
    expectProblem(await sdk.login({ client: app.client, body: { email: body.email, password: body.password } }), 403, 'account_suspended');
  });

  it('accepts the email in any case', async () => {
    const { body } = await loggedInUser(app);
    const { response } = await sdk.login({ client: app.client, body: { email: body.email.toUpperCase(), password: body.password } });
    expect(response?.status).to.equal(200);
  });

  it('logs in as a requested actor type the user holds, and refuses one it does not hold', async () => {
    const { body, user } = await loggedInUser(app, { user_type: 'customer' });
    await app.db('user_actor_types').insert({ user_id: user.id, actor_type: 'merchant' });
    const asCustomer = await sdk.login({ client: app.client, body: { email: body.email, password: body.password, actor_type: 'customer' } });
    expect(decodeJwt(tokensOf(asCustomer.data).access_token).actor_type).to.equal('customer');
    const strictest = await sdk.login({ client: app.client, body: { email: body.email, password: body.password } });
    expect(decodeJwt(tokensOf(strictest.data).access_token).actor_type).to.equal('merchant');
    expectProblem(await sdk.login({ client: app.client, body: { email: body.email, password: body.password, actor_type: 'admin' } }), 403, 'actor_type_not_held');
  });

  it('upgrades a password hash made with weaker parameters at the next login', async () => {
    const { body, user } = await loggedInUser(app);
    const { hash } = await import('@node-rs/argon2');
    const weak = await hash(body.password, { algorithm: 2, memoryCost: 512, timeCost: 1, parallelism: 1 });
    await app.db('users').where({ id: user.id }).update({ password_hash: weak });
    const { response } = await sdk.login({ client: app.client, body: { email: body.email, password: body.password } });
    expect(response?.status).to.equal(200);
    const upgraded = (await app.db('users').where({ id: user.id }).first()).password_hash as string;
    expect(upgraded).not.to.equal(weak);
    expect(upgraded).to.match(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
  });

  it('returns the profile of the token holder', async () => {
    const { session, user } = await loggedInUser(app);
    const { data } = await sdk.getProfile({ client: app.client, auth: session.access_token });
    expect(data).to.deep.include({ id: user.id, email: user.email, actor_types: ['citizen'], status: 'active' });
  });

  it('refuses the profile without a token', async () => {
    expectProblem(await sdk.getProfile({ client: app.client }), 401, 'authentication_required');
  });

  it('after logout, the access token is rejected at once and the refresh token is dead', async () => {
    const { session } = await loggedInUser(app);
    const out = await sdk.logout({ client: app.client, auth: session.access_token });
    expect(out.response?.status).to.equal(204);
    expectProblem(await sdk.getProfile({ client: app.client, auth: session.access_token }), 401, 'session_revoked');
    expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: session.refresh_token } }), 401, 'session_revoked');
    expectProblem(await sdk.logout({ client: app.client, auth: session.access_token }), 401, 'session_revoked');
  });

  it('logout ends only the current session unless all_devices is true', async () => {
    const { session, body } = await loggedInUser(app);
    const second = tokensOf((await sdk.login({ client: app.client, body: { email: body.email, password: body.password } })).data);
    const third = tokensOf((await sdk.login({ client: app.client, body: { email: body.email, password: body.password } })).data);
    await sdk.logout({ client: app.client, auth: session.access_token, body: {} });
    expect((await sdk.getProfile({ client: app.client, auth: second.access_token })).response?.status).to.equal(200);
    await sdk.logout({ client: app.client, auth: second.access_token, body: { all_devices: true } });
    expectProblem(await sdk.getProfile({ client: app.client, auth: third.access_token }), 401, 'session_revoked');
    expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: third.refresh_token } }), 401, 'session_revoked');
  });

  it('a logout on one instance is enforced at once by another instance', async () => {
    const other = await startTestApp();
    try {
      const { session } = await loggedInUser(app);
      expect((await sdk.getProfile({ client: other.client, auth: session.access_token })).response?.status).to.equal(200);
      await sdk.logout({ client: app.client, auth: session.access_token });
      expectProblem(await sdk.getProfile({ client: other.client, auth: session.access_token }), 401, 'session_revoked');
    } finally {
      await other.close();
    }
  });

  it('a revoked session stays revoked when the fast-path store has lost its state', async () => {
    const { session } = await loggedInUser(app);
    await sdk.logout({ client: app.client, auth: session.access_token });
    await app.store.delete(`session:${decodeJwt(session.access_token).sid}`);
    expectProblem(await sdk.getProfile({ client: app.client, auth: session.access_token }), 401, 'session_revoked');
  });

  it('works the same without Redis (PostgreSQL fast-path store)', async () => {
    const pgOnly = await startTestApp({ store: 'postgres', clock: app.clock });
    try {
      const { session } = await loggedInUser(pgOnly);
      expect((await sdk.getProfile({ client: pgOnly.client, auth: session.access_token })).response?.status).to.equal(200);
      await sdk.logout({ client: pgOnly.client, auth: session.access_token });
      expectProblem(await sdk.getProfile({ client: pgOnly.client, auth: session.access_token }), 401, 'session_revoked');
    } finally {
      await pgOnly.close();
    }
  });
});
