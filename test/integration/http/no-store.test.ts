import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { loggedInUser, registerBody, strongPassword, uniqueEmail } from '../../helpers/flows.js';
import { totpCodes } from '../../helpers/probes.js';

type Answer = { response?: Response; error?: unknown };

/** Answers that carry a secret (tokens, a TOTP secret, backup codes, an MFA token) must not be stored by any cache. */
describe('Cache-Control: no-store on answers that carry secrets', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));
  const { codeAt, nextStep } = totpCodes(() => app);

  function expectNoStore(name: string, answer: Answer, status: number): void {
    expect(answer.response?.status, `${name}: ${JSON.stringify(answer.error)}`).to.equal(status);
    expect(answer.response?.headers.get('cache-control'), name).to.equal('no-store');
  }

  it('login, refresh, 2FA enable, confirm, verify and backup codes; guest creation and conversion; switch-actor; the dev outbox', async () => {
    const account = await loggedInUser(app);
    const login = await sdk.login({ client: app.client, body: { email: account.body.email, password: account.body.password } });
    expectNoStore('login', login, 200);
    expectNoStore('refresh', await sdk.refreshToken({ client: app.client, body: { refresh_token: account.session.refresh_token } }), 200);

    const access = (login.data as sdk.LoginSuccess).access_token;
    const enabled = await sdk.enableTwoFactor({ client: app.client, auth: access });
    expectNoStore('2fa enable (secret)', enabled, 200);
    const confirmed = await sdk.confirmTwoFactor({ client: app.client, auth: access, body: { code: await codeAt(enabled.data!.secret) } });
    expectNoStore('2fa confirm (backup codes)', confirmed, 200);
    nextStep();
    const challenge = await sdk.login({ client: app.client, body: { email: account.body.email, password: account.body.password } });
    expectNoStore('login (MFA token)', challenge, 200);
    const verified = await sdk.verifyTwoFactor({ client: app.client, body: { mfa_token: (challenge.data as sdk.MfaChallenge).mfa_token, code: await codeAt(enabled.data!.secret) } });
    expectNoStore('2fa verify', verified, 200);
    expectNoStore('backup codes', await sdk.regenerateBackupCodes({ client: app.client, auth: access, body: { password: account.body.password } }), 200);

    const guest = await sdk.createGuest({ client: app.client, body: { device_id: 'no-store-device' } });
    expectNoStore('guest', guest, 201);
    const converted = await sdk.convertGuest({
      client: app.client,
      auth: guest.data!.access_token,
      path: { user_id: guest.data!.user.id },
      body: { email: uniqueEmail('converted'), password: strongPassword, password_confirm: strongPassword, accept_terms: true },
    });
    expectNoStore('conversion', converted, 200);
    expectNoStore('switch-actor', await sdk.switchActor({ client: app.client, auth: converted.data!.access_token, body: { actor_type: 'citizen' } }), 200);
    expectNoStore('dev outbox (tokens)', await sdk.listDevOutbox({ client: app.client, query: { to: account.body.email } }), 200);
  });

  it('errors and other answers of the API too, but not the public JWKS', async () => {
    expectNoStore('an error', await sdk.login({ client: app.client, body: { email: uniqueEmail(), password: 'Wrong-Pass-2026!' } }), 401);
    expectNoStore('register', await sdk.register({ client: app.client, body: registerBody() }), 201);
    expectNoStore('actor types', await sdk.listActorTypes({ client: app.client }), 200);
    const jwks = await fetch(`${app.url}/.well-known/jwks.json`);
    expect(jwks.headers.get('cache-control')).to.match(/^public, max-age=\d+$/);
  });
});
