import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import pino from 'pino';
import * as sdk from '../../../sdk/src/index.js';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { ManualClock } from '../../../src/infra/clock.js';
import { OutboxWorker } from '../../../src/infra/messages/outbox-worker.js';
import { TwilioSmsSender } from '../../../src/infra/messages/sms.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { requestCode, uniquePhone } from '../../helpers/phone.js';

/** What the stand-in provider received: the request as Twilio's Messages API would read it. */
interface Received {
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  form: Record<string, string>;
}

type Mode = 'accept' | 'unavailable' | 'reject';

/**
 * A local stand-in for Twilio's Messages API: `POST /2010-04-01/Accounts/{sid}/Messages.json`
 * with HTTP Basic auth and a form body; answers 201 with a message resource, or Twilio-shaped
 * errors (503 while "down", 400 for a number it refuses).
 */
async function startProvider(accountSid: string, authToken: string) {
  const received: Received[] = [];
  let mode: Mode = 'accept';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      received.push({ path: req.url ?? '', authorization: req.headers.authorization, contentType: req.headers['content-type'], form });
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
      if (req.method !== 'POST' || req.url !== `/2010-04-01/Accounts/${accountSid}/Messages.json`) return json(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
      if (req.headers.authorization !== expectedAuth) return json(401, { code: 20003, message: 'Authenticate', status: 401 });
      if (mode === 'unavailable') return json(503, { code: 20500, message: 'Service unavailable', status: 503 });
      if (mode === 'reject') return json(400, { code: 21211, message: `The 'To' number ${form.To} is not a valid phone number.`, status: 400 });
      json(201, { sid: `SM${received.length}`, account_sid: accountSid, to: form.To, from: form.From, body: form.Body, status: 'queued' });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    to: (phone: string) => received.filter((r) => r.form.To === phone),
    set mode(m: Mode) {
      mode = m;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

interface OutboxRow {
  status: string;
  attempts: number;
  body: string;
  last_error: string | null;
  next_attempt_at: Date;
}

/**
 * The outbox table is shared with other suites, whose apps leave codes pending: this suite's
 * clock lives in 2000, so its worker only ever claims rows made on its clock (earlier than the
 * 2001 of the email worker suite, and than real time).
 */
describe('SMS through the outbox to an HTTP provider (Twilio Messages API shape, local stand-in)', () => {
  const accountSid = 'AC0123456789abcdef0123456789abcdef';
  const authToken = 'stand-in-auth-token';
  const clock = new ManualClock(new Date('2000-06-01T08:00:00.000Z'));
  let provider: Awaited<ReturnType<typeof startProvider>>;
  let app: TestApp;
  let worker: OutboxWorker;
  const phones: string[] = [];

  const phone = () => {
    const p = uniquePhone();
    phones.push(p);
    return p;
  };
  const rowTo = async (to: string): Promise<OutboxRow> => {
    const rows: OutboxRow[] = await app.db('outbox_messages').where({ recipient: to, channel: 'sms' });
    expect(rows).to.have.length(1);
    return rows[0]!;
  };

  before(async () => {
    provider = await startProvider(accountSid, authToken);
    const env = { SMS_PROVIDER: 'twilio', SMS_API_URL: provider.url, SMS_ACCOUNT_SID: accountSid, SMS_AUTH_TOKEN: authToken, SMS_FROM: '+15005550006' };
    app = await startTestApp({ clock, env });
    const sender = new TwilioSmsSender({ apiUrl: provider.url, accountSid, authToken, from: env.SMS_FROM });
    worker = new OutboxWorker(app.db, clock, { sms: sender }, pino({ level: 'silent' }), { from: 'unused', pollMs: 1000, maxAttempts: 4, backoffMs: 1000, batchSize: 50 });
  });

  after(async () => {
    if (phones.length) await app?.db('outbox_messages').whereIn('recipient', phones).delete();
    await app?.close();
    await provider?.close();
  });

  beforeEach(() => {
    provider.mode = 'accept';
  });

  it('delivers a code: a form POST with Basic auth, To/From/Body; the row is then sent and its code erased', async () => {
    const to = phone();
    const id = await requestCode(app, to, 'registration', { language: 'fr' });
    expect(await worker.runOnce()).to.be.at.least(1);
    const [message] = provider.to(to);
    expect(message).to.deep.include({ path: `/2010-04-01/Accounts/${accountSid}/Messages.json`, contentType: 'application/x-www-form-urlencoded' });
    expect(message!.form).to.include({ To: to, From: '+15005550006' });
    const code = /(\d{6})/.exec(message!.form.Body!)![1]!;
    expect(message!.form.Body).to.equal(`Votre code de vérification est ${code}. Il expire dans 15 minutes. Ne le communiquez à personne.`);
    expect(await rowTo(to)).to.include({ status: 'sent', attempts: 1, body: '[delivered]', last_error: null });
    const confirmed = await sdk.confirmPhoneVerification({ client: app.client, body: { verification_id: id, code } });
    expect(confirmed.data).to.deep.equal({ verified: true, purpose: 'registration' });
    await worker.runOnce();
    expect(provider.to(to), 'delivered once').to.have.length(1);
  });

  it('while the provider fails (503, or nothing listening) the code waits with a backoff, and is delivered when it recovers', async () => {
    const to = phone();
    await requestCode(app, to, 'registration');
    provider.mode = 'unavailable';
    await worker.runOnce();
    let row = await rowTo(to);
    expect(row).to.include({ status: 'pending', attempts: 1, last_error: 'SMS provider answered HTTP 503 (provider code 20500)' });
    expect(row.next_attempt_at.getTime()).to.equal(clock.now().getTime() + 1000);
    await worker.runOnce();
    expect((await rowTo(to)).attempts, 'not retried before its backoff').to.equal(1);

    const unreachable = new OutboxWorker(app.db, clock, { sms: new TwilioSmsSender({ apiUrl: `http://127.0.0.1:${await closedPort()}`, accountSid, authToken, from: '+15005550006' }) }, pino({ level: 'silent' }), {
      from: 'unused',
      pollMs: 1000,
      maxAttempts: 4,
      backoffMs: 1000,
    });
    clock.advance(1000);
    await unreachable.runOnce();
    row = await rowTo(to);
    expect(row).to.include({ status: 'pending', attempts: 2 });
    expect(row.last_error).to.be.a('string').and.not.include(to);

    provider.mode = 'accept';
    clock.advance(2000);
    expect(await worker.runOnce()).to.be.at.least(1);
    expect(provider.to(to).filter((r) => r.form.Body!.includes('code'))).to.have.length(2); // the 503 attempt, then the delivery
    expect(await rowTo(to)).to.include({ status: 'sent', attempts: 3, last_error: null });
  });

  it('a number the provider refuses (400) fails at once, without the number in the stored error', async () => {
    const to = phone();
    await requestCode(app, to, 'registration');
    provider.mode = 'reject';
    await worker.runOnce();
    const row = await rowTo(to);
    expect(row).to.include({ status: 'failed', attempts: 1, last_error: 'SMS provider answered HTTP 400 (provider code 21211)', body: '[failed]' });
    provider.mode = 'accept';
    clock.advance(3_600_000);
    await worker.runOnce();
    expect(provider.to(to), 'a failed message is not retried').to.have.length(1);
  });

  it('with a provider configured, the dev outbox does not show SMS codes', async () => {
    const to = phone();
    await requestCode(app, to, 'registration');
    expect((await sdk.listDevOutbox({ client: app.client, query: { to } })).data!.items).to.deep.equal([]);
  });

  it('SMS_PROVIDER=twilio needs its account, token and sender: the start fails naming them', () => {
    expect(() => loadConfig({ SMS_PROVIDER: 'twilio' })).to.throw(ConfigError, /SMS_ACCOUNT_SID[\s\S]*SMS_AUTH_TOKEN[\s\S]*SMS_FROM or SMS_MESSAGING_SERVICE_SID/);
    expect(() => loadConfig({ SMS_PROVIDER: 'twilio', SMS_ACCOUNT_SID: 'AC1', SMS_AUTH_TOKEN: 't', SMS_MESSAGING_SERVICE_SID: 'MG1' })).to.not.throw();
  });
});
