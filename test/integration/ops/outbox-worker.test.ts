import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { expect } from 'chai';
import nodemailer from 'nodemailer';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import * as sdk from '../../../sdk/src/index.js';
import { ManualClock } from '../../../src/infra/clock.js';
import { createDb, type Db } from '../../../src/infra/db.js';
import { enqueueMessage } from '../../../src/infra/messages/outbox.js';
import { OutboxWorker, type OutboxWorkerOptions } from '../../../src/infra/messages/outbox-worker.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { testDatabaseUrl } from '../../helpers/env.js';
import { registerBody, uniqueEmail } from '../../helpers/flows.js';

/**
 * The outbox table is shared with every other suite, whose apps leave verification emails
 * pending (apps in tests run no worker). This suite's clock lives in 2001: its rows are due
 * long before theirs, and a worker on this clock never claims rows made at the real time.
 * Every assertion is scoped to the recipients created here.
 */
const epoch = new Date('2001-02-03T04:05:06.000Z');
const from = 'Sésame <no-reply@sesame.test>';
const logger = pino({ level: 'silent' });

interface Received {
  to: string[];
  headers: string;
  text: string;
}

interface OutboxRow {
  id: string;
  recipient: string;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  sent_at: Date | null;
  body: string;
  data: Record<string, string>;
}

/** The text part of a raw single-part message (7bit, quoted-printable or base64). */
function decode(raw: string): { headers: string; text: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = raw.slice(0, split);
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const encoding = /^content-transfer-encoding:\s*([\w-]+)/im.exec(headers)?.[1]?.toLowerCase();
  if (encoding === 'base64') return { headers, text: Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') };
  if (encoding === 'quoted-printable') {
    const bytes: number[] = [];
    const soft = body.replace(/=\r?\n/g, '');
    for (let i = 0; i < soft.length; i++) {
      const hex = soft.slice(i + 1, i + 3);
      if (soft[i] === '=' && /^[0-9A-F]{2}$/i.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else bytes.push(...Buffer.from(soft[i]!, 'utf8'));
    }
    return { headers, text: Buffer.from(bytes).toString('utf8').replace(/\r\n/g, '\n') };
  }
  return { headers, text: body.replace(/\r\n/g, '\n') };
}

/** A real SMTP server on 127.0.0.1 that keeps what it receives. */
async function startSmtp(port = 0): Promise<{ port: number; received: Received[]; to(address: string): Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), ...decode(Buffer.concat(chunks).toString('utf8')) });
        callback();
      });
    },
  });
  server.listen(port, '127.0.0.1');
  await once(server.server, 'listening');
  return {
    port: (server.server.address() as AddressInfo).port,
    received,
    to: (address) => received.filter((m) => m.to.includes(address)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on (for now). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function transport(port: number) {
  return nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
}

describe('outbox worker (real SMTP server, real PostgreSQL)', () => {
  let app: TestApp;
  let clock: ManualClock;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let db2: Db;
  const recipients: string[] = [];
  const options: OutboxWorkerOptions = { from, pollMs: 1000, maxAttempts: 3, backoffMs: 1000, batchSize: 50 };

  const worker = (port: number, db: Db = app.db, extra: Partial<OutboxWorkerOptions> = {}) =>
    new OutboxWorker(db, clock, { email: transport(port) }, logger, { ...options, ...extra });
  const recipient = (tag: string) => {
    const address = uniqueEmail(tag);
    recipients.push(address);
    return address;
  };
  const rowOf = async (to: string): Promise<OutboxRow> => {
    const rows = await app.db<OutboxRow>('outbox_messages').where({ recipient: to });
    expect(rows, `outbox rows to ${to}`).to.have.length(1);
    return rows[0]!;
  };
  const enqueue = (to: string, db: Db = app.db) =>
    enqueueMessage(db, clock, {
      channel: 'email',
      to,
      template: 'email_verification',
      language: 'en',
      params: { first_name: 'Jean', link: `http://app.sesame.test/verify-email?token=${encodeURIComponent(to)}` },
      data: { token: to, link: `http://app.sesame.test/verify-email?token=${encodeURIComponent(to)}` },
    });

  before(async () => {
    clock = new ManualClock(epoch);
    app = await startTestApp({ clock });
    smtp = await startSmtp();
    db2 = createDb(testDatabaseUrl, 4);
  });

  after(async () => {
    if (recipients.length) await app?.db('outbox_messages').whereIn('recipient', recipients).delete();
    await smtp?.close();
    await db2?.destroy();
    await app?.close();
  });

  it('delivers the verification email of a registration over SMTP, then marks the row sent and erases its secrets', async () => {
    const body = registerBody({ email: recipient('register'), language: 'en' });
    const { error, response } = await sdk.register({ client: app.client, body });
    expect(response?.status, JSON.stringify(error)).to.equal(201);
    const pending = await rowOf(body.email);
    expect(pending).to.include({ status: 'pending', attempts: 0 });
    const link = pending.data.link!;
    expect(link).to.match(/^http:\/\/app\.sesame\.test\/verify-email\?token=/);

    const sent = await worker(smtp.port).runOnce();
    expect(sent).to.be.at.least(1);

    const mails = smtp.to(body.email);
    expect(mails).to.have.length(1);
    expect(mails[0]!.text).to.include(link);
    expect(mails[0]!.text).to.include('Hello Jean');
    expect(mails[0]!.headers).to.match(/^subject: Confirm your email address$/im);
    expect(mails[0]!.headers).to.match(/^from: .*<no-reply@sesame\.test>$/im);

    const row = await rowOf(body.email);
    expect(row).to.include({ status: 'sent', attempts: 1, last_error: null, body: '[delivered]' });
    expect(row.data).to.deep.equal({});
    expect(row.sent_at!.getTime()).to.equal(clock.now().getTime());
    const { data } = await sdk.listDevOutbox({ client: app.client, query: { to: body.email } });
    expect(data!.items[0]).to.include({ status: 'sent', token: null, link: null });

    await worker(smtp.port).runOnce();
    expect(smtp.to(body.email), 'not delivered twice').to.have.length(1);
  });

  it('when SMTP is unreachable, then the row stays pending with a backoff, and fails after maxAttempts', async () => {
    const down = await closedPort();
    const to = recipient('unreachable');
    await enqueue(to);
    const w = worker(down);

    await w.runOnce();
    let row = await rowOf(to);
    expect(row).to.include({ status: 'pending', attempts: 1 });
    expect(row.last_error).to.be.a('string').and.not.equal('');
    expect(row.next_attempt_at.getTime()).to.equal(clock.now().getTime() + 1000);

    await w.runOnce(); // not due yet
    expect((await rowOf(to)).attempts).to.equal(1);

    clock.advance(1000);
    await w.runOnce();
    row = await rowOf(to);
    expect(row).to.include({ status: 'pending', attempts: 2 });
    expect(row.next_attempt_at.getTime()).to.equal(clock.now().getTime() + 2000);

    clock.advance(2000);
    await w.runOnce();
    row = await rowOf(to);
    expect(row).to.include({ status: 'failed', attempts: 3, body: '[failed]' });
    expect(row.data, 'the link it carried is erased').to.deep.equal({});

    // A failed message is not retried, even once SMTP works again.
    clock.advance(3_600_000);
    await worker(smtp.port).runOnce();
    expect((await rowOf(to)).status).to.equal('failed');
    expect(smtp.to(to)).to.have.length(0);
  });

  it('when the SMTP server comes back, then a message that failed is delivered at its next attempt (nothing lost)', async () => {
    const port = await closedPort();
    const to = recipient('comes-back');
    await enqueue(to);
    const w = worker(port);
    await w.runOnce();
    expect(await rowOf(to)).to.include({ status: 'pending', attempts: 1 });

    const revived = await startSmtp(port);
    try {
      await w.runOnce(); // the backoff has not elapsed
      expect(revived.to(to)).to.have.length(0);
      clock.advance(1000);
      expect(await w.runOnce()).to.be.at.least(1);
      expect(revived.to(to)).to.have.length(1);
      expect(revived.to(to)[0]!.text).to.include(`token=${encodeURIComponent(to)}`);
      expect(await rowOf(to)).to.include({ status: 'sent', attempts: 2, last_error: null });
    } finally {
      await revived.close();
    }
  });

  it('a message enqueued in a transaction that rolls back is never sent; one that commits is', async () => {
    const rolledBack = recipient('rolled-back');
    const committed = recipient('committed');
    let failure: unknown;
    await app.db
      .transaction(async (trx) => {
        await enqueueMessage(trx, clock, { channel: 'email', to: rolledBack, template: 'email_verification', language: 'en', params: { first_name: 'Jean', link: 'http://x.test' } });
        throw new Error('the change that caused the message failed');
      })
      .catch((e: unknown) => (failure = e));
    expect(failure).to.be.instanceOf(Error);
    await app.db.transaction(async (trx) => {
      await enqueueMessage(trx, clock, { channel: 'email', to: committed, template: 'email_verification', language: 'en', params: { first_name: 'Jean', link: 'http://x.test' } });
    });

    expect(await app.db('outbox_messages').where({ recipient: rolledBack })).to.have.length(0);
    await worker(smtp.port).runOnce();
    expect(smtp.to(rolledBack)).to.have.length(0);
    expect(smtp.to(committed)).to.have.length(1);
  });

  it('two workers running concurrently (two connections) never send one message twice', async () => {
    const batch = Array.from({ length: 12 }, (_, i) => recipient(`concurrent${i}`));
    for (const to of batch) await enqueue(to);
    const a = worker(smtp.port, app.db, { batchSize: 3 });
    const b = worker(smtp.port, db2, { batchSize: 3 });
    for (let round = 0; round < 10; round++) {
      await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
      const left = await app.db('outbox_messages').whereIn('recipient', batch).andWhere({ status: 'pending' }).count<Array<{ count: string }>>('* as count');
      if (left[0]!.count === '0') break;
    }
    for (const to of batch) expect(smtp.to(to), to).to.have.length(1);
    const rows = await app.db<OutboxRow>('outbox_messages').whereIn('recipient', batch);
    expect(rows.map((r) => [r.status, r.attempts])).to.deep.equal(batch.map(() => ['sent', 1]));
  });

  describe('leases', () => {
    let blackhole: net.Server;
    let held: Socket[];

    beforeEach(async () => {
      held = [];
      // Accepts connections and never greets: a worker sending through it hangs like a stuck process.
      blackhole = net.createServer((socket) => held.push(socket));
      blackhole.listen(0, '127.0.0.1');
      await once(blackhole, 'listening');
    });

    afterEach(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => blackhole.close(() => resolve()));
    });

    const stuckWorker = () => worker((blackhole.address() as AddressInfo).port, app.db, { leaseMs: 60_000 });

    it("while a worker holds a message, others skip it; once the lease expires, another worker delivers it", async () => {
      const to = recipient('lease');
      await enqueue(to);
      const stuck = stuckWorker();
      const stuckRound = stuck.runOnce();
      await once(blackhole, 'connection'); // claimed, and now sending

      const other = worker(smtp.port, db2);
      await other.runOnce();
      expect(smtp.to(to), 'skipped during the lease').to.have.length(0);
      expect((await rowOf(to)).next_attempt_at.getTime()).to.equal(clock.now().getTime() + 60_000);

      clock.advance(60_001);
      await other.runOnce();
      expect(smtp.to(to)).to.have.length(1);
      expect((await rowOf(to)).status).to.equal('sent');

      for (const s of held) s.destroy();
      await stuckRound;
    });

    it('when a worker whose lease expired fails afterwards, then the message another worker delivered stays sent and is not sent again', async () => {
      const to = recipient('late-failure');
      await enqueue(to);
      const stuck = stuckWorker();
      const stuckRound = stuck.runOnce();
      await once(blackhole, 'connection');

      clock.advance(60_001);
      const other = worker(smtp.port, db2);
      await other.runOnce();
      expect(smtp.to(to)).to.have.length(1);

      for (const s of held) s.destroy(); // the stuck send now fails
      await stuckRound;

      const row = await rowOf(to);
      expect(row.status, 'a delivered message must stay sent').to.equal('sent');
      clock.advance(3_600_000);
      await other.runOnce();
      expect(smtp.to(to), 'delivered once').to.have.length(1);
    });
  });
});
