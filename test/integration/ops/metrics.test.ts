import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { generate } from 'otplib';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, latestMessage, loggedInUser, registerBody, registerUser, strongPassword, tokensOf } from '../../helpers/flows.js';

type Labels = Record<string, string>;

/** Prometheus text exposition → value per series (name + labels sorted by name). */
type Samples = Map<string, number>;

const seriesKey = (name: string, labels: Labels = {}) =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
    .join(',')}}`;

function parseExposition(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    expect(match, `unreadable exposition line: ${line}`).to.not.equal(null);
    const labels: Labels = {};
    for (const [, k, v] of match![2]?.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[k!] = v!;
    samples.set(seriesKey(match![1]!, labels), Number(match![3]));
  }
  return samples;
}

describe('Prometheus metrics (GET /metrics)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  async function scrape(): Promise<Samples> {
    const response = await fetch(`${app.url}/metrics`);
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/^text\/plain/);
    return parseExposition(await response.text());
  }

  /** Scrapes before and after `work`; `moved` tells by how much a series changed (it must exist afterwards). */
  async function around(work: () => Promise<void>) {
    const before = await scrape();
    await work();
    const after = await scrape();
    return {
      after,
      moved(name: string, labels?: Labels): number {
        const key = seriesKey(name, labels);
        expect(after.has(key), `${key} is not exposed`).to.equal(true);
        return after.get(key)! - (before.get(key) ?? 0);
      },
    };
  }

  it('counts registrations by status and user type, refusals by error type, and times them', async () => {
    const m = await around(async () => {
      await registerUser(app);
      const body = registerBody({ password_confirm: 'Not-The-Same-2026!' });
      expectProblem(await sdk.register({ client: app.client, body }), 400, 'password_mismatch');
    });
    expect(m.moved('auth_register_attempts_total', { status: 'success', user_type: 'citizen' })).to.equal(1);
    expect(m.moved('auth_register_errors_total', { error_type: 'password_mismatch' })).to.equal(1);
    expect(m.moved('auth_register_duration_seconds_count')).to.equal(2);
    expect(m.moved('auth_register_duration_seconds_bucket', { le: '+Inf' })).to.equal(2);
  });

  it('counts logins by status and role, times them, and gauges live sessions by role', async () => {
    const { body } = await registerUser(app);
    let verified = false;
    const m = await around(async () => {
      verified = (await sdk.verifyEmail({ client: app.client, body: { token: (await latestMessage(app, body.email)).token! } })).response?.status === 200;
      tokensOf((await sdk.login({ client: app.client, body: { email: body.email, password: strongPassword } })).data);
      expectProblem(await sdk.login({ client: app.client, body: { email: body.email, password: 'Wrong-Pass-2026!' } }), 401, 'invalid_credentials');
    });
    expect(verified).to.equal(true);
    expect(m.moved('auth_login_attempts_total', { status: 'success', role: 'citizen' })).to.equal(1);
    expect(m.moved('auth_login_attempts_total', { status: 'invalid_credentials', role: 'unknown' })).to.equal(1);
    expect(m.moved('auth_login_duration_seconds_count')).to.equal(2);
    expect(m.moved('auth_active_sessions', { role: 'citizen' })).to.equal(1);
  });

  it('counts refreshes by status, logouts by type and revocations from the session list', async () => {
    const { body, session } = await loggedInUser(app);
    const m = await around(async () => {
      const rotated = await sdk.refreshToken({ client: app.client, body: { refresh_token: session.refresh_token } });
      expect(rotated.response?.status).to.equal(200);
      expectProblem(await sdk.refreshToken({ client: app.client, body: { refresh_token: 'no-such-refresh-token' } }), 401, 'invalid_refresh_token');
      const other = tokensOf((await sdk.login({ client: app.client, body: { email: body.email, password: strongPassword } })).data);
      expect((await sdk.revokeSession({ client: app.client, auth: session.access_token, path: { session_id: decodeJwt(other.access_token).sid as string } })).response?.status).to.equal(204);
      expect((await sdk.logout({ client: app.client, auth: session.access_token, body: {} })).response?.status).to.equal(204);
    });
    expect(m.moved('auth_refresh_total', { status: 'success' })).to.equal(1);
    expect(m.moved('auth_refresh_total', { status: 'invalid_refresh_token' })).to.equal(1);
    expect(m.moved('auth_logout_total', { type: 'manual' })).to.equal(1);
    expect(m.moved('auth_session_revocations_total', { scope: 'session' })).to.equal(1);
  });

  it('counts profile reads by role and profile updates', async () => {
    const { session } = await loggedInUser(app);
    const m = await around(async () => {
      expect((await sdk.getProfile({ client: app.client, auth: session.access_token })).response?.status).to.equal(200);
      expect((await sdk.updateProfile({ client: app.client, auth: session.access_token, body: { first_name: 'Jeanne' } })).response?.status).to.equal(200);
    });
    expect(m.moved('auth_profile_requests_total', { role: 'citizen' })).to.equal(1);
    expect(m.moved('auth_profile_updates_total')).to.equal(1);
  });

  it('counts password changes by status, reset requests and reset completions by status', async () => {
    const { body, session } = await loggedInUser(app);
    const newPassword = 'Fresh-Secret-2027?';
    const m = await around(async () => {
      const change = (old_password: string) => sdk.changePassword({ client: app.client, auth: session.access_token, body: { old_password, new_password: newPassword, new_password_confirm: newPassword } });
      expectProblem(await change('Wrong-Pass-2026!'), 401, 'invalid_current_password');
      expect((await change(strongPassword)).response?.status).to.equal(200);
      await sdk.requestPasswordReset({ client: app.client, body: { email: body.email } });
      const token = (await latestMessage(app, body.email)).token!;
      const confirm = { token, new_password: strongPassword, new_password_confirm: strongPassword };
      expect((await sdk.confirmPasswordReset({ client: app.client, body: confirm })).response?.status).to.equal(204);
      expectProblem(await sdk.confirmPasswordReset({ client: app.client, body: confirm }), 400, 'reset_token_invalid');
    });
    expect(m.moved('auth_password_changes_total', { status: 'success' })).to.equal(1);
    expect(m.moved('auth_password_changes_total', { status: 'invalid_current_password' })).to.equal(1);
    expect(m.moved('auth_password_reset_requests_total')).to.equal(1);
    expect(m.moved('auth_password_reset_completions_total', { status: 'success' })).to.equal(1);
    expect(m.moved('auth_password_reset_completions_total', { status: 'reset_token_invalid' })).to.equal(1);
  });

  it('counts 2FA checks by method and status and 2FA changes by action', async () => {
    const { session } = await loggedInUser(app);
    const m = await around(async () => {
      const setup = await sdk.enableTwoFactor({ client: app.client, auth: session.access_token });
      const code = await generate({ secret: setup.data!.secret, epoch: Math.floor(app.clock.now().getTime() / 1000) });
      expect((await sdk.confirmTwoFactor({ client: app.client, auth: session.access_token, body: { code } })).response?.status).to.equal(200);
      const codes = await sdk.regenerateBackupCodes({ client: app.client, auth: session.access_token, body: { password: strongPassword } });
      expect(codes.response?.status).to.equal(200);
      const disabled = await sdk.disableTwoFactor({ client: app.client, auth: session.access_token, body: { password: strongPassword, code: codes.data!.backup_codes[0]! } });
      expect(disabled.response?.status).to.equal(204);
    });
    expect(m.moved('auth_2fa_verifications_total', { method: 'totp', status: 'success' })).to.equal(1);
    expect(m.moved('auth_2fa_changes_total', { action: 'enabled' })).to.equal(1);
    expect(m.moved('auth_2fa_changes_total', { action: 'backup_codes_regenerated' })).to.equal(1);
    expect(m.moved('auth_2fa_changes_total', { action: 'disabled' })).to.equal(1);
  });

  it('times HTTP requests by method, OpenAPI route template and status, a 404 included', async () => {
    const { session } = await loggedInUser(app);
    const sid = decodeJwt(session.access_token).sid as string;
    const m = await around(async () => {
      expect((await sdk.getProfile({ client: app.client, auth: session.access_token })).response?.status).to.equal(200);
      expect((await fetch(`${app.url}/api/v1/no-such-route/${sid}`)).status).to.equal(404);
      expectProblem(await sdk.revokeSession({ client: app.client, auth: session.access_token, path: { session_id: '00000000-0000-4000-8000-000000000000' } }), 404, 'session_not_found');
      expect((await sdk.revokeSession({ client: app.client, auth: session.access_token, path: { session_id: sid } })).response?.status).to.equal(204);
    });
    const http = (method: string, route: string, status: string) => m.moved('http_request_duration_seconds_count', { method, route, status });
    expect(http('GET', '/api/v1/auth/profile', '200')).to.equal(1);
    expect(http('DELETE', '/api/v1/auth/sessions/{session_id}', '404')).to.equal(1);
    expect(http('DELETE', '/api/v1/auth/sessions/{session_id}', '204')).to.equal(1);
    expect(http('GET', 'unmatched', '404')).to.equal(1);
    expect(m.moved('http_request_duration_seconds_bucket', { method: 'GET', route: '/api/v1/auth/profile', status: '200', le: '+Inf' })).to.equal(1);
    const routes = [...m.after.keys()].filter((k) => k.startsWith('http_request_duration_seconds'));
    expect(routes.filter((k) => k.includes(sid)), 'a raw URL leaked into the route label').to.deep.equal([]);
  });
});
