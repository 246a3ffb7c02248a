import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { projectRoot } from '../../../src/shared/spec.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { loggedInUser } from '../../helpers/flows.js';

/** The nginx binary: on the PATH, or where Debian puts it (not on a non-root PATH). */
function findNginx(): string | undefined {
  for (const candidate of [process.env.NGINX_BIN, 'nginx', '/usr/sbin/nginx']) {
    if (candidate && !spawnSync(candidate, ['-v']).error) return candidate;
  }
  return undefined;
}

/** A port free right now: listen on 0, read it, close. */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Resolves once nginx has written its pid file (it does so after opening its listening sockets,
 * so connections are accepted from then on), or when it exits first (false); bounded by `ms`.
 */
function started(nginx: ChildProcess, dir: string, pidFile: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (ok: boolean) => {
      watcher.close();
      clearTimeout(bound);
      nginx.off('exit', exited);
      resolve(ok);
    };
    const exited = () => finish(false);
    const watcher = watch(dir, () => existsSync(pidFile) && finish(true));
    const bound = setTimeout(() => finish(false), ms);
    nginx.once('exit', exited);
    if (existsSync(pidFile)) finish(true); // written before the watch began
  });
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * examples/nginx/sesame-gateway.conf, the file users copy, rendered with local ports and run by
 * a real nginx between a client and an upstream that records what reaches it.
 */
describe('nginx auth_request in front of an API (examples/nginx/sesame-gateway.conf)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  let dir: string;
  let nginx: ChildProcess | undefined;
  let upstream: Server | undefined;
  let gateway: string;
  const seen: Seen[] = [];

  before(async function () {
    const bin = findNginx();
    if (!bin) {
      const hint = 'nginx is not installed: `apt-get install nginx-light` to run the nginx gateway test';
      if (process.env.CI === 'true') throw new Error(hint);
      console.warn(`      (skipped: ${hint})`);
      this.skip();
    }

    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ upstream: true }));
      });
    });
    await new Promise<void>((resolve) => upstream!.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    const listenPort = await freePort();
    gateway = `http://127.0.0.1:${listenPort}`;

    dir = mkdtempSync(path.join(tmpdir(), 'sesame-nginx-'));
    const site = readFileSync(path.join(projectRoot(), 'examples', 'nginx', 'sesame-gateway.conf'), 'utf8')
      .replaceAll('{{LISTEN}}', `127.0.0.1:${listenPort}`)
      .replaceAll('{{SESAME_ADDRESS}}', new URL(app.url).host)
      .replaceAll('{{API_ADDRESS}}', `127.0.0.1:${upstreamPort}`);
    expect(site, 'a placeholder is left').not.to.match(/\{\{/);
    writeFileSync(path.join(dir, 'sesame-gateway.conf'), site);
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, t)};`).join('\n');
    // One process as the current user (no master/worker split, no privilege drop), everything in dir.
    writeFileSync(
      path.join(dir, 'nginx.conf'),
      `daemon off;
master_process off;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 64; }
http {
  access_log off;
${temp}
  include ${path.join(dir, 'sesame-gateway.conf')};
}
`,
    );
    nginx = spawn(bin!, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    nginx.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    if (await started(nginx, dir, path.join(dir, 'nginx.pid'), 15_000)) return;
    const log = (() => {
      try {
        return readFileSync(path.join(dir, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    })();
    throw new Error(`nginx did not start: ${stderr}${log}`);
  });

  after(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx!.once('exit', resolve));
      nginx.kill('SIGTERM');
      await exited;
    }
    if (upstream) await new Promise((resolve) => upstream!.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A request through nginx; returns the response and what the upstream saw of it (if anything). */
  async function through(pathname: string, init: RequestInit = {}) {
    const before = seen.length;
    const res = await fetch(gateway + pathname, init);
    const text = await res.text();
    return { res, text, reached: seen.slice(before) };
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('a valid token passes: the API gets the caller’s identity headers (forged ones are replaced)', async () => {
    const { user, session } = await loggedInUser(app);
    const { res, text, reached } = await through('/quizzes/42?lang=fr', { headers: { ...bearer(session.access_token), 'x-user-id': 'forged', 'x-permissions': '*:*:*' } });
    expect(res.status, text).to.equal(200);
    expect(JSON.parse(text)).to.deep.equal({ upstream: true });
    expect(reached).to.have.length(1);
    const { headers, url } = reached[0]!;
    expect(url).to.equal('/quizzes/42?lang=fr');
    expect(headers['x-user-id']).to.equal(user.id);
    expect(headers['x-status']).to.equal('active');
    expect(headers['x-is-guest']).to.equal('false');
    expect(headers['x-permissions']).to.equal('quiz:play:free');
    expect(headers['x-roles']).to.equal('free');
    expect(headers['x-plan']).to.equal('free');
    expect(headers['x-actor-type']).to.equal('citizen');
    expect(headers['x-session-id']).to.be.a('string').and.not.equal('');
  });

  it('a POST with a body passes too, body intact (the verify subrequest leaves it out)', async () => {
    const { user, session } = await loggedInUser(app);
    const payload = JSON.stringify({ answer: 'B' });
    const { res, reached } = await through('/quizzes/42/answers', { method: 'POST', headers: { ...bearer(session.access_token), 'content-type': 'application/json' }, body: payload });
    expect(res.status).to.equal(200);
    expect(reached).to.have.length(1);
    expect(reached[0]).to.deep.include({ method: 'POST', body: payload });
    expect(reached[0]!.headers['x-user-id']).to.equal(user.id);
  });

  it('no token: 401 with the bearer challenge, and the API is not called', async () => {
    const { res, reached } = await through('/quizzes/42');
    expect(res.status).to.equal(401);
    expect(res.headers.get('www-authenticate')).to.equal('Bearer realm="sesame"');
    expect(reached).to.have.length(0);
  });

  it('a token whose session was logged out: 401 at once, the API is not called', async () => {
    const { session } = await loggedInUser(app);
    expect((await through('/me', { headers: bearer(session.access_token) })).res.status).to.equal(200);
    const out = await sdk.logout({ client: app.client, auth: session.access_token, body: {} });
    expect(out.response?.status, JSON.stringify(out.error)).to.equal(204);
    const { res, reached } = await through('/me', { headers: bearer(session.access_token) });
    expect(res.status).to.equal(401);
    expect(res.headers.get('www-authenticate')).to.equal('Bearer realm="sesame", error="invalid_token"');
    expect(reached).to.have.length(0);
  });

  it('a garbage token: 401, the API is not called', async () => {
    const { res, reached } = await through('/me', { headers: bearer('garbage.token.here') });
    expect(res.status).to.equal(401);
    expect(reached).to.have.length(0);
  });
});
