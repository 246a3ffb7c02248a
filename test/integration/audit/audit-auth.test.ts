import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { type AuditRow } from '../../helpers/probes.js';
import { expectProblem, latestMessage, registerBody, tokensOf } from '../../helpers/flows.js';

const userAgent = 'AuditTest/1.0 (sesame)';
const headers = { 'user-agent': userAgent };
const wrongPassword = 'Wrong-Pass-2026!';

/** An address whose masked form (first and last letter of the local part, full domain) is unique. */
const traceableEmail = () => `audit@${randomUUID()}.example.com`;
const masked = (email: string) => email.replace(/^a[^@]*t@/, 'a***t@');

/** The value of one Prometheus sample whose labels include `labels`. */
function sample(metricsText: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of metricsText.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const present = new Map([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.entries(labels).every(([k, v]) => present.get(k) === v)) return Number(m[3]);
  }
  return 0;
}

describe('audit of the auth slice', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const auditRows = (where: Partial<AuditRow>): Promise<AuditRow[]> => app.db('audit_logs').where(where).orderBy('created_at');
  const login = (email: string, password: string) => sdk.login({ client: app.client, headers, body: { email, password } });

  /** Exactly one row for the event, carrying the request's ip and user agent and the masked email. */
  async function theRow(where: Partial<AuditRow>, email: string): Promise<AuditRow> {
    const rows = await auditRows(where);
    expect(rows, `${where.event} rows`).to.have.length(1);
    const row = rows[0]!;
    expect(row).to.include({ ip: '127.0.0.1', user_agent: userAgent, identifier: masked(email) });
    expect(row.identifier).not.to.equal(email);
    return row;
  }

  /** Registers and verifies through the API with the test user agent. */
  async function activeUser() {
    const body = registerBody({ email: traceableEmail() });
    const { data, error } = await sdk.register({ client: app.client, headers, body });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    const token = (await latestMessage(app, body.email)).token!;
    expect((await sdk.verifyEmail({ client: app.client, headers, body: { token } })).error).to.equal(undefined);
    return { body, user: data!.user };
  }

  it('user.registered: one row for a new account, none when the email is already registered', async () => {
    const { body, user } = await activeUser();
    const row = await theRow({ event: 'user.registered', user_id: user.id }, body.email);
    expect(row.details).to.deep.equal({ user_type: 'citizen' });
    expect((await sdk.register({ client: app.client, headers, body })).response!.status).to.equal(201);
    expect(await auditRows({ event: 'user.registered', identifier: masked(body.email) })).to.have.length(1);
  });

  it('email.verified: one row', async () => {
    const { body, user } = await activeUser();
    await theRow({ event: 'email.verified', user_id: user.id }, body.email);
  });

  it('login.failed: one row for a wrong password (with the user) and one for an unknown email (without)', async () => {
    const { body, user } = await activeUser();
    expectProblem(await login(body.email, wrongPassword), 401, 'invalid_credentials');
    const wrong = await theRow({ event: 'login.failed', user_id: user.id }, body.email);
    expect(wrong.details).to.deep.equal({ reason: 'wrong_password' });

    const unknown = traceableEmail();
    expectProblem(await login(unknown, wrongPassword), 401, 'invalid_credentials');
    const stranger = await theRow({ event: 'login.failed', identifier: masked(unknown) }, unknown);
    expect(stranger).to.include({ user_id: null });
    expect(stranger.details).to.deep.equal({ reason: 'unknown_email' });
  });

  it('account.locked: one row when the lock starts, none for the attempts it refuses', async () => {
    const { body, user } = await activeUser();
    for (let i = 0; i < 10; i++) await login(body.email, wrongPassword);
    expectProblem(await login(body.email, body.password), 403, 'account_locked');
    expectProblem(await login(body.email, wrongPassword), 403, 'account_locked');
    const row = await theRow({ event: 'account.locked', user_id: user.id }, body.email);
    expect(row.details).to.deep.equal({ locked_until: new Date(app.clock.now().getTime() + 1800_000).toISOString() });
    expect(await auditRows({ event: 'login.failed', user_id: user.id })).to.have.length(10);
  });

  it('logout: one row for this session, one for all devices', async () => {
    const { body, user } = await activeUser();
    const first = tokensOf((await login(body.email, body.password)).data);
    const second = tokensOf((await login(body.email, body.password)).data);
    expect((await sdk.logout({ client: app.client, headers, auth: first.access_token })).response!.status).to.equal(204);
    const manual = await theRow({ event: 'logout', session_id: decodeJwt(first.access_token).sid as string }, body.email);
    expect(manual).to.include({ user_id: user.id });
    expect(manual.details).to.deep.equal({ all_devices: false });
    expect((await sdk.logout({ client: app.client, headers, auth: second.access_token, body: { all_devices: true } })).response!.status).to.equal(204);
    const everywhere = await theRow({ event: 'logout', session_id: decodeJwt(second.access_token).sid as string }, body.email);
    expect(everywhere.details).to.deep.equal({ all_devices: true });
  });

  it('a registration whose transaction fails leaves no audit row', async () => {
    const email = traceableEmail();
    await app.db.raw(`create or replace function audit_auth_test_refuse() returns trigger language plpgsql as $$
      begin
        if new.recipient = '${email}' then raise exception 'refused by the audit test'; end if;
        return new;
      end $$`);
    await app.db.raw('create trigger audit_auth_test_refuse before insert on outbox_messages for each row execute function audit_auth_test_refuse()');
    try {
      expectProblem(await sdk.register({ client: app.client, headers, body: registerBody({ email }) }), 500, 'internal_error');
    } finally {
      await app.db.raw('drop trigger if exists audit_auth_test_refuse on outbox_messages');
      await app.db.raw('drop function if exists audit_auth_test_refuse()');
    }
    expect(await app.db('users').where({ email })).to.have.length(0);
    expect(await auditRows({ identifier: masked(email) })).to.have.length(0);
  });

  it('counts refused registrations by error type, register durations, profile reads by actor type and logouts by type', async () => {
    const metrics = async () => (await fetch(`${app.url}/metrics`)).text();
    const before = await metrics();
    const { body } = await activeUser();
    const session = tokensOf((await login(body.email, body.password)).data);
    expectProblem(await sdk.register({ client: app.client, body: registerBody({ password_confirm: 'Another-Pass-2026!' }) }), 400, 'password_mismatch');
    expect((await sdk.getProfile({ client: app.client, auth: session.access_token })).response!.status).to.equal(200);
    await sdk.logout({ client: app.client, auth: session.access_token });
    const after = await metrics();
    const delta = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('auth_register_errors_total', { error_type: 'password_mismatch' })).to.equal(1);
    expect(delta('auth_register_duration_seconds_count')).to.equal(2);
    expect(delta('auth_profile_requests_total', { role: 'citizen' })).to.equal(1);
    expect(delta('auth_logout_total', { type: 'manual' })).to.equal(1);
  });
});
