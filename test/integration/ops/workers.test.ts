import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Agent } from 'undici';
import * as sdk from '../../../sdk/src/index.js';
import { threadPoolSize } from '../../../src/cluster/workers.cjs';
import { createClient, type Client } from '../../../sdk/src/client/index.js';
import { testDatabaseUrl, testRedisUrl } from '../../helpers/env.js';
import { registerBody, tokensOf } from '../../helpers/flows.js';
import { childEnv, exitsWithin, freePort, isReady, startBuiltServer, type LoggedProcess } from '../../helpers/processes.js';

/** A client whose requests all go over one connection, hence to one worker. */
interface PinnedClient {
  client: Client;
  /** The pid of the worker that holds the connection. */
  pid: number;
  close(): Promise<void>;
}

describe('WORKERS=2: a supervisor and two workers (the real server in a child process)', function () {
  this.timeout(120_000);
  let server: LoggedProcess;
  let baseUrl: string;
  const agents: Agent[] = [];

  /** Opens a new connection and finds out, from the access log, which worker took it. */
  async function pinnedClient(): Promise<PinnedClient> {
    const agent = new Agent({ connections: 1 });
    agents.push(agent);
    const client = createClient({ baseUrl, fetch: ((request: Request) => fetch(request, { dispatcher: agent } as RequestInit)) as typeof fetch });
    const id = randomUUID();
    const { response } = await sdk.listActorTypes({ client, headers: { 'x-request-id': id } });
    expect(response?.status).to.equal(200);
    const line = await server.waitFor((l) => (l.req as { id?: string } | undefined)?.id === id);
    return { client, pid: Number(line.pid), close: () => agent.close() };
  }

  /** Pinned clients on new connections until one lands on a worker outside `exclude`. */
  async function clientOnAnotherWorker(exclude: number[]): Promise<PinnedClient> {
    for (let i = 0; i < 40; i++) {
      const c = await pinnedClient();
      if (!exclude.includes(c.pid)) return c;
      await c.close();
    }
    throw new Error(`no worker other than ${exclude.join(', ')} answered`);
  }

  before(async () => {
    const port = await freePort();
    const off = Object.fromEntries(['LOGIN_IP', 'LOGIN_EMAIL', 'REGISTER_IP', 'GUEST_IP', 'PASSWORD_RESET_EMAIL', 'VERIFICATION_RESEND_EMAIL'].map((k) => [`RATE_LIMIT_${k}`, 'off']));
    server = startBuiltServer(
      childEnv({
        NODE_ENV: 'development',
        WORKERS: '2',
        LOG_LEVEL: 'info',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: testDatabaseUrl,
        REDIS_URL: testRedisUrl,
        KEY_ENCRYPTION_KEY: 'test-only-key-encryption-secret-0123456789',
        ...off,
      }),
    );
    const ready = await server.waitFor(isReady);
    expect(ready.workers).to.equal(2);
    baseUrl = String(ready.url);
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
    await server?.stop();
  });

  it('two workers answer; a logout through one is refused by the other at once; a killed worker is replaced; SIGTERM stops them all', async () => {
    const a = await pinnedClient();
    const b = await clientOnAnotherWorker([a.pid]);
    expect(b.pid).not.to.equal(a.pid);
    expect(b.pid).not.to.equal(server.child.pid);
    // Each worker's libuv pool was sized before it started (its share of the cores).
    for (const pid of [a.pid, b.pid]) expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).to.include(`UV_THREADPOOL_SIZE=${threadPoolSize(2)}`);

    const body = registerBody();
    expect((await sdk.register({ client: a.client, body })).response?.status).to.equal(201);
    const outbox = await sdk.listDevOutbox({ client: b.client, query: { to: body.email } });
    expect((await sdk.verifyEmail({ client: b.client, body: { token: outbox.data!.items[0]!.token! } })).response?.status).to.equal(200);
    const session = tokensOf((await sdk.login({ client: a.client, body: { email: body.email, password: body.password } })).data);
    const auth = session.access_token;

    // Both workers accept the token (and remember it as live), then one of them logs out.
    expect((await sdk.getProfile({ client: a.client, auth })).response?.status).to.equal(200);
    expect((await sdk.getProfile({ client: b.client, auth })).response?.status).to.equal(200);
    const verified = await sdk.verifyTokenGet({ client: b.client, headers: { authorization: `Bearer ${auth}` } });
    expect(verified.response?.status, JSON.stringify(verified.error)).to.equal(200);
    expect((await sdk.logout({ client: a.client, auth, body: { all_devices: false } })).response?.status).to.equal(204);
    const profile = await sdk.getProfile({ client: b.client, auth });
    expect(profile.response?.status).to.equal(401);
    expect((profile.error as sdk.Problem).code).to.equal('session_revoked');
    expect((await sdk.verifyTokenGet({ client: b.client, headers: { authorization: `Bearer ${auth}` } })).response?.status).to.equal(401);
    expect((await sdk.refreshToken({ client: b.client, body: { refresh_token: session.refresh_token } })).response?.status).to.equal(401);

    process.kill(a.pid, 'SIGKILL');
    await server.waitFor((l) => l.msg === 'a worker died: starting another' && l.worker === a.pid);
    const replacement = await server.waitFor((l) => l.msg === 'a new worker is ready');
    const c = await clientOnAnotherWorker([a.pid, b.pid]);
    expect(c.pid).to.equal(replacement.worker);
    expect((await sdk.getProfile({ client: c.client, auth })).response?.status).to.equal(401);

    server.child.kill('SIGTERM');
    const { code } = await server.exited;
    expect(code).to.equal(0);
    for (const pid of [b.pid, c.pid, server.child.pid!]) expect(await exitsWithin(pid), `process ${pid} is gone`).to.equal(true);
    const workerStops = server.lines.filter((l) => l.msg === 'stopped' && (l.pid === b.pid || l.pid === c.pid));
    expect(workerStops.length, 'each worker drained and said so').to.equal(2);
  });
});
