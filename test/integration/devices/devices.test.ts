import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { startTestApp, type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, strongPassword, tokensOf } from '../../helpers/flows.js';
import { phoneLogin, phoneUser } from '../../helpers/phone.js';
import { totpCodes, type AuditRow } from '../../helpers/probes.js';

const deviceOf = (accessToken: string) => decodeJwt(accessToken).device_id as string;

describe('devices', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const list = (auth: string) => sdk.listDevices({ client: app.client, auth });
  const revoke = (auth: string, device_id: string) => sdk.revokeDevice({ client: app.client, auth, path: { device_id } });
  const passwordLogin = async (email: string, device?: sdk.DeviceInfo, userAgent = 'Agent/1') => {
    const { data, error } = await sdk.login({ client: app.client, body: { email, password: strongPassword, device }, headers: { 'user-agent': userAgent } });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return tokensOf(data);
  };

  it('a login naming a device registers it: its id is the token’s device_id, listed verified and current', async () => {
    const { body, user } = await loggedInUser(app);
    const tokens = await passwordLogin(body.email, { name: 'Jean’s iPhone', type: 'ios', public_key: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE', push_token: 'fcm-token-1' }, 'Sesame-iOS/2.1');
    const deviceId = deviceOf(tokens.access_token);
    expect(deviceId).to.match(/^[0-9a-f-]{36}$/);
    const { data } = await list(tokens.access_token);
    expect(data!.items).to.have.length(1);
    expect(data!.items[0]).to.deep.include({
      id: deviceId,
      name: 'Jean’s iPhone',
      type: 'ios',
      public_key: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE',
      has_push_token: true,
      ip: '127.0.0.1',
      verified: true,
      current: true,
    });
    expect(JSON.stringify(data)).to.not.include('fcm-token-1');
    const added: AuditRow[] = await app.db('audit_logs').where({ user_id: user.id, event: 'device.added' });
    expect(added.map((r) => r.details)).to.deep.equal([{ device_id: deviceId, name: 'Jean’s iPhone', type: 'ios' }]);
  });

  it('recognises a device by the id it was given, by its public key, or by name, type and user agent', async () => {
    const { body } = await loggedInUser(app);
    const first = deviceOf((await passwordLogin(body.email, { name: 'Phone', type: 'android' }, 'UA/phone')).access_token);
    app.clock.advance(1000);
    expect(deviceOf((await passwordLogin(body.email, { id: first, name: 'Phone (renamed)', type: 'android' }, 'UA/other')).access_token)).to.equal(first);
    const keyed = deviceOf((await passwordLogin(body.email, { name: 'Laptop', type: 'desktop', public_key: 'key-A' }, 'UA/laptop')).access_token);
    expect(deviceOf((await passwordLogin(body.email, { name: 'Laptop 2', type: 'web', public_key: 'key-A' }, 'UA/browser')).access_token)).to.equal(keyed);
    const plain = deviceOf((await passwordLogin(body.email, { name: 'Kiosk', type: 'web' }, 'UA/kiosk')).access_token);
    const again = await passwordLogin(body.email, { name: 'Kiosk', type: 'web' }, 'UA/kiosk');
    expect(deviceOf(again.access_token)).to.equal(plain);
    // Someone else's device id is not a way in: it is a new device of this account.
    const stranger = await loggedInUser(app);
    const foreign = deviceOf((await passwordLogin(stranger.body.email, { id: first, name: 'Phone', type: 'android' }, 'UA/phone')).access_token);
    expect(foreign).to.not.equal(first);

    const items = (await list(again.access_token)).data!.items;
    expect(items.map((d) => d.id).sort()).to.deep.equal([first, keyed, plain].sort());
    expect(items.find((d) => d.id === first)).to.include({ name: 'Phone (renamed)' });
    expect(items.filter((d) => d.current).map((d) => d.id)).to.deep.equal([plain]);
  });

  it('a login paused for 2FA leaves its device unverified until the second factor is given', async () => {
    const { codeAt, nextStep } = totpCodes(() => app);
    const { body, session } = await loggedInUser(app);
    const setup = (await sdk.enableTwoFactor({ client: app.client, auth: session.access_token })).data!;
    await sdk.confirmTwoFactor({ client: app.client, auth: session.access_token, body: { code: await codeAt(setup.secret) } });
    nextStep();
    const paused = await sdk.login({ client: app.client, body: { email: body.email, password: strongPassword, device: { name: 'New laptop', type: 'desktop' } } });
    const pending = (await list(session.access_token)).data!.items;
    expect(pending.map((d) => [d.name, d.verified])).to.deep.equal([['New laptop', false]]);
    const verified = await sdk.verifyTwoFactor({ client: app.client, body: { mfa_token: (paused.data as sdk.MfaChallenge).mfa_token, code: await codeAt(setup.secret) } });
    expect(deviceOf(verified.data!.access_token)).to.equal(pending[0]!.id);
    expect((await list(session.access_token)).data!.items[0]).to.include({ id: pending[0]!.id, verified: true });
  });

  it('revoking a device ends its sessions (access and refresh tokens) at once, leaves the others, and is audited', async () => {
    const { phone, user } = await phoneUser(app, { device: { name: 'Old phone', type: 'android' } });
    const old = await phoneLogin(app, phone, { device: { name: 'Old phone', type: 'android' } });
    const current = await phoneLogin(app, phone, { device: { name: 'New phone', type: 'ios' } }, { 'user-agent': 'New/1' });
    const oldDevice = deviceOf(old.access_token);
    expect((await list(current.access_token)).data!.items).to.have.length(2);

    const { data, response } = await revoke(current.access_token, oldDevice);
    expect(response?.status).to.equal(200);
    expect(data).to.deep.equal({ revoked_sessions: 2 }); // the registration's session and the old login
    expectProblem(await sdk.getProfile({ client: app.client, auth: old.access_token }), 401, 'session_revoked');
    expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: old.refresh_token } }), 401, 'session_revoked');
    expect((await sdk.getProfile({ client: app.client, auth: current.access_token })).response?.status).to.equal(200);
    expect((await list(current.access_token)).data!.items.map((d) => d.id)).to.deep.equal([deviceOf(current.access_token)]);

    const [revokedRow] = (await app.db('audit_logs').where({ user_id: user.id, event: 'device.revoked' })) as AuditRow[];
    expect(revokedRow!.details).to.deep.equal({ device_id: oldDevice, name: 'Old phone', type: 'android', revoked_sessions: 2 });
    expect(revokedRow!.identifier).to.equal(`+86 *** ** ${phone.slice(-2)}`);
    const ended: AuditRow[] = await app.db('audit_logs').where({ user_id: user.id, event: 'session.revoked' });
    expect(ended.map((r) => r.details.reason)).to.deep.equal(['device_revoked', 'device_revoked']);

    // A revoked device is forgotten: signing in from it again registers a new one.
    const back = await phoneLogin(app, phone, { device: { id: oldDevice, name: 'Old phone', type: 'android' } });
    expect(deviceOf(back.access_token)).to.not.equal(oldDevice);
    expectProblem(await revoke(current.access_token, oldDevice), 404, 'device_not_found');
  });

  it("another user's device, or an unknown id, is 404 and revokes nothing", async () => {
    const a = await loggedInUser(app);
    const b = await loggedInUser(app);
    const bTokens = await passwordLogin(b.body.email, { name: 'B phone', type: 'ios' });
    expectProblem(await revoke(a.session.access_token, deviceOf(bTokens.access_token)), 404, 'device_not_found');
    expectProblem(await revoke(a.session.access_token, randomUUID()), 404, 'device_not_found');
    expect((await sdk.getProfile({ client: app.client, auth: bTokens.access_token })).response?.status).to.equal(200);
  });

  it('the device list and revocation need a session', async () => {
    expectProblem(await sdk.listDevices({ client: app.client }), 401, 'authentication_required');
    expectProblem(await sdk.revokeDevice({ client: app.client, path: { device_id: randomUUID() } }), 401, 'authentication_required');
  });

  describe('with two instances', () => {
    let other: TestApp;
    before(async () => {
      other = await startTestApp({ clock: app.clock });
    });
    after(async () => {
      await other?.close();
    });

    it('a device revoked on one instance is refused by the other at once (access and refresh)', async () => {
      const { body } = await loggedInUser(app);
      const doomed = await passwordLogin(body.email, { name: 'Stolen phone', type: 'android' }, 'Stolen/1');
      const kept = await passwordLogin(body.email, { name: 'Laptop', type: 'desktop' }, 'Laptop/1');
      expect((await sdk.getProfile({ client: other.client, auth: doomed.access_token })).response?.status).to.equal(200);
      expect((await revoke(kept.access_token, deviceOf(doomed.access_token))).data).to.deep.equal({ revoked_sessions: 1 });
      expectProblem(await sdk.getProfile({ client: other.client, auth: doomed.access_token }), 401, 'session_revoked');
      expectProblem(await sdk.refreshToken({ client: other.client, body: { refresh_token: doomed.refresh_token } }), 401, 'session_revoked');
      const verify = await fetch(`${other.url}/api/v1/auth/verify`, { headers: { authorization: `Bearer ${doomed.access_token}` } });
      expect(verify.status).to.equal(401);
      expect((await sdk.getProfile({ client: other.client, auth: kept.access_token })).response?.status).to.equal(200);
    });
  });
});
