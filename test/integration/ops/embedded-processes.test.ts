import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pino from 'pino';
import { ConfigError } from '../../../src/config/config.js';
import { startEmbeddedPostgres } from '../../../src/infra/embedded-postgres.js';
import * as sdk from '../../../sdk/src/index.js';
import { createClient } from '../../../sdk/src/client/index.js';
import { registerBody } from '../../helpers/flows.js';
import { childEnv, exitsWithin, freePort, isReady, isRunning, npmStart, projectRoot, startBuiltServer, type LoggedProcess } from '../../helpers/processes.js';

/** A fresh DATA_DIR (the embedded server runs as another OS user as root: postgres). */
function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sesame-processes-'));
  chmodSync(dir, 0o755);
  return dir;
}

/** `npm run keys -- list` on the same settings: its exit code and output. */
function keysList(env: NodeJS.ProcessEnv) {
  const run = spawnSync('npm', ['run', '--silent', 'keys', '--', 'list'], { cwd: projectRoot, env, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

function postmasterPid(dir: string): number | undefined {
  const file = path.join(dir, 'postgres', 'postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
}

async function readiness(url: string) {
  return (await sdk.getReadiness({ client: createClient({ baseUrl: url }) })).response?.status;
}

describe('the embedded PostgreSQL with several processes (real child processes)', function () {
  this.timeout(180_000);
  const dirs: string[] = [];
  const processes: LoggedProcess[] = [];
  const envFor = async (dir: string, extra: Record<string, string> = {}) =>
    childEnv({ NODE_ENV: 'development', LOG_LEVEL: 'info', DATA_DIR: dir, EMBEDDED_PG_PORT: String(await freePort()), HOST: '127.0.0.1', PORT: String(await freePort()), ...extra });
  const fresh = () => {
    const dir = dataDir();
    dirs.push(dir);
    return dir;
  };
  const track = (p: LoggedProcess) => (processes.push(p), p);
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
  });
  after(() => {
    for (const dir of dirs) {
      const pid = postmasterPid(dir);
      if (pid && isRunning(pid)) process.kill(pid, 'SIGINT');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a command and a second server use the running embedded database and leave it running', async () => {
    const dir = fresh();
    const env = await envFor(dir);
    const first = track(startBuiltServer(env));
    const ready = await first.waitFor(isReady);
    const url = String(ready.url);

    const keys = keysList(env);
    expect(keys.status, keys.output).to.equal(0);
    expect(keys.output).to.contain('signing');
    expect(keys.output).not.to.contain('orphaned');

    const clash = track(startBuiltServer(env)); // the same PORT: refused, naming it
    expect((await clash.exited).code).to.equal(2);
    expect(clash.text.join('')).to.contain('PORT: port').and.contain('already in use');

    const second = track(startBuiltServer({ ...env, PORT: String(await freePort()) }));
    await second.waitFor(isReady);
    expect(second.lines.some((l) => l.msg === 'using the embedded PostgreSQL that another Sésame process runs')).to.equal(true);
    await second.stop();
    expect((await second.exited).code).to.equal(0);

    expect(await readiness(url)).to.equal(200);
    const registered = await sdk.register({ client: createClient({ baseUrl: url }), body: registerBody() });
    expect(registered.response?.status).to.equal(201);
  });

  it('a command stops an orphaned embedded database (its server was killed) and leaves none running', async () => {
    const dir = fresh();
    const env = await envFor(dir);
    const server = track(startBuiltServer(env));
    await server.waitFor(isReady);
    const postgres = postmasterPid(dir)!;
    server.child.kill('SIGKILL');
    await server.exited;
    expect(isRunning(postgres), 'PostgreSQL outlives a killed server').to.equal(true);

    const keys = keysList(env);
    expect(keys.status, keys.output).to.equal(0);
    expect(keys.output).to.contain('stopping an orphaned embedded PostgreSQL');
    expect(await exitsWithin(postgres)).to.equal(true);
    expect(postmasterPid(dir), 'the command stopped the server it started').to.equal(undefined);
  });

  it('SIGTERM to `npm start`: the in-flight request is answered from the database, then the server and PostgreSQL stop', async () => {
    const dir = fresh();
    const env = await envFor(dir);
    const npm = track(npmStart(env));
    const ready = await npm.waitFor(isReady);
    const serverPid = Number(ready.pid);
    const postgres = postmasterPid(dir)!;
    expect(isRunning(postgres)).to.equal(true);

    // A login whose headers the server has taken (it answered 100 Continue) but whose body is
    // still to come: in flight when the signal arrives.
    const body = JSON.stringify({ email: `nobody.${Date.now()}@example.com`, password: 'Not-The-Password-2026!' });
    const socket = connect(Number(new URL(String(ready.url)).port), '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    const seen = (text: string) => new Promise<void>((resolve) => {
      const check = () => (received.includes(text) ? resolve() : socket.once('data', check));
      check();
    });
    socket.write(`POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`);
    await seen('100 Continue');

    npm.child.kill('SIGTERM');
    await npm.waitFor((l) => l.msg === 'shutting down: finishing in-flight requests' && l.pid === serverPid);
    socket.write(body);
    await seen('\r\n\r\n{');
    await new Promise((resolve) => socket.once('close', resolve));
    expect(received).to.match(/HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 401 /);
    expect(received).to.contain('"code":"invalid_credentials"');

    const { code } = await npm.exited;
    expect(code).to.equal(0);
    expect(npm.lines.some((l) => l.msg === 'stopped' && l.pid === serverPid), 'the last log line was flushed').to.equal(true);
    expect(await exitsWithin(serverPid), 'no orphaned node process').to.equal(true);
    expect(await exitsWithin(postgres), 'no PostgreSQL left running').to.equal(true);
    expect(postmasterPid(dir)).to.equal(undefined);
  });

  it('a taken EMBEDDED_PG_PORT stops the start at once with a message naming it', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as { port: number };
    try {
      const err = await startEmbeddedPostgres(fresh(), port, pino({ level: 'silent' })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as Error).message).to.contain('EMBEDDED_PG_PORT').and.contain(String(port)).and.contain('in use');
    } finally {
      squatter.close();
    }
  });
});
