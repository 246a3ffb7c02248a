import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { projectRoot as findProjectRoot } from '../../../src/shared/spec.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { run, tscBin as tsc } from '../../helpers/commands.js';

const projectRoot = findProjectRoot();

/** The scratch project's code: everything by package name, nothing from this repository. */
const scratchMain = `
import { createClient, createSession, getProfile, listDevOutbox, memoryStorage, register, verifyEmail, type SessionEvent } from '@sesame/sdk';

const baseUrl = process.env.SESAME_URL!;
const send = (message: object) => process.send!(message);
// The session's clock: the test moves it (and the server's) past the access token's expiry.
let offset = 0;
const clock = { now: () => new Date(Date.now() + offset) };
const calls: string[] = [];
const counting: typeof fetch = (input, init) => {
  const request = new Request(input, init);
  calls.push(request.method + ' ' + new URL(request.url).pathname);
  return fetch(request);
};

const client = createClient({ baseUrl });
const email = 'scratch.' + crypto.randomUUID() + '@example.com';
const password = 'Sesame-Test-2026!';
await register({ client, body: { email, password, password_confirm: password, first_name: 'Ada', last_name: 'Lovelace', accept_terms: true }, throwOnError: true });
const outbox = await listDevOutbox({ client, query: { to: email }, throwOnError: true });
await verifyEmail({ client, body: { token: outbox.data.items[0]!.token! }, throwOnError: true });

const session = createSession({ baseUrl, storage: memoryStorage(), clock, fetch: counting });
const events: Array<SessionEvent['type']> = [];
session.onChange((event) => events.push(event.type));
const signIn = await session.signIn({ email, password });
if (!signIn.data || !('access_token' in signIn.data)) throw new Error('sign-in failed: ' + JSON.stringify(signIn.error));
send({ step: 'signed_in', expires_in: signIn.data.expires_in });

process.once('message', async (message: { advanceMs: number }) => {
  offset += message.advanceMs;
  const results = await Promise.all(Array.from({ length: 10 }, () => getProfile({ client: session.client })));
  send({
    step: 'done',
    statuses: results.map((r) => r.response?.status),
    emails: results.map((r) => r.data?.email),
    refreshes: calls.filter((c) => c === 'POST /api/v1/auth/refresh').length,
    events,
  });
  process.disconnect();
});
`;

/** A mistake the declarations must catch. */
const scratchMistake = `
import { login } from '@sesame/sdk';
await login({ body: { emial: 'jean@example.com', password: 'x' } });
`;

const scratchTsconfig = (typeRoots: string) => ({
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    lib: ['ES2022', 'DOM'],
    strict: true,
    skipLibCheck: false,
    typeRoots: [typeRoots],
    types: ['node'],
    outDir: 'dist',
  },
  files: ['main.ts'],
});

describe('SDK package: npm pack, installed in a scratch project, signing in against a running server', function () {
  this.timeout(120_000); // packing builds the SDK (tsc), then the scratch project compiles
  let app: TestApp;
  useTestApp((started) => (app = started));

  let dir: string;
  let scratch: string;
  let packed: { filename: string; files: Array<{ path: string }> };
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sesame-sdk-pack-'));
    const pack = run('npm', ['pack', '--json', '--silent', '--pack-destination', dir], path.join(projectRoot, 'sdk'));
    expect(pack.status, pack.stderr).to.equal(0);
    packed = (JSON.parse(pack.stdout) as Array<typeof packed>)[0]!;

    scratch = path.join(dir, 'scratch');
    mkdirSync(scratch);
    writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    writeFileSync(path.join(scratch, 'main.ts'), scratchMain);
    writeFileSync(path.join(scratch, 'mistake.ts'), scratchMistake);
    writeFileSync(path.join(scratch, 'tsconfig.json'), JSON.stringify(scratchTsconfig(path.join(projectRoot, 'node_modules/@types'))));
    writeFileSync(path.join(scratch, 'tsconfig.mistake.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true, skipLibCheck: true }, files: ['mistake.ts'] }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Installed offline from the tarball (it has no dependency), then compiled with this repo's TypeScript.
  before(() => {
    const install = run('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(dir, packed.filename)], scratch);
    expect(install.status, install.stderr).to.equal(0);
    const compiled = run(process.execPath, [tsc, '-p', 'tsconfig.json'], scratch);
    expect(compiled.status, compiled.stdout + compiled.stderr).to.equal(0);
  });

  it('packs an ESM build with declarations and the README: no TypeScript source, no runtime dependency', () => {
    const files = packed.files.map((f) => f.path);
    expect(files).to.include.members(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/session/session.js', 'dist/session/session.d.ts', 'dist/src/sdk.gen.js', 'dist/src/client/index.js']);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).to.deep.equal([]);
    expect(files.filter((f) => f.includes('tsbuildinfo'))).to.deep.equal([]);
    const manifest = JSON.parse(readFileSync(path.join(projectRoot, 'sdk/package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).to.include({ name: '@sesame/sdk', type: 'module', sideEffects: false, types: './dist/index.d.ts' });
    expect(manifest).to.not.have.property('dependencies');
    expect(manifest.exports).to.deep.include({ '.': { types: './dist/index.d.ts', default: './dist/index.js' } });
  });

  it('installs with no dependency of its own, and its declarations type the operations (a mistyped body does not compile)', () => {
    const installed = JSON.parse(readFileSync(path.join(scratch, 'node_modules/@sesame/sdk/package.json'), 'utf8')) as Record<string, unknown>;
    expect(installed).to.include({ name: '@sesame/sdk' });
    expect(installed).to.not.have.property('dependencies');
    expect(readFileSync(path.join(scratch, 'dist/main.js'), 'utf8')).to.include("from '@sesame/sdk'");
    const wrong = run(process.execPath, [tsc, '-p', 'tsconfig.mistake.json'], scratch);
    expect(wrong.status).to.not.equal(0);
    expect(wrong.stdout).to.include("'emial' does not exist");
  });

  it('run by plain Node from the installed package: signs in, then survives an access-token expiry with 10 parallel requests and one refresh', async () => {
    let child: ChildProcess | undefined;
    try {
      // Plain node, no TypeScript loader: the scratch project's compiled JavaScript and node_modules only.
      child = fork(path.join(scratch, 'dist/main.js'), [], { cwd: scratch, execArgv: [], env: { PATH: process.env.PATH, SESAME_URL: app.url }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const [signedIn] = (await once(child, 'message')) as [{ step: string; expires_in: number }];
      expect(signedIn.step).to.equal('signed_in');
      const advanceMs = signedIn.expires_in * 1000 + 1000;
      app.clock.advance(advanceMs); // the server's clock: the first access token is now expired there too
      child.send({ advanceMs });
      const [done] = (await once(child, 'message')) as [{ statuses: number[]; emails: string[]; refreshes: number; events: string[] }];
      expect(done.statuses).to.deep.equal(Array(10).fill(200));
      expect(new Set(done.emails).size).to.equal(1);
      expect(done.refreshes).to.equal(1);
      expect(done.events).to.deep.equal(['signed_in', 'refreshed']);
    } finally {
      child?.kill();
    }
  });
});

describe('server kit package: npm pack', function () {
  this.timeout(60_000);
  it('packs the ESM build with declarations for both entry points, jose as its only dependency', () => {
    const build = run(process.execPath, [tsc, '-b', 'server-kit'], projectRoot);
    expect(build.status, build.stdout + build.stderr).to.equal(0);
    const pack = run('npm', ['pack', '--dry-run', '--json', '--silent', '--ignore-scripts'], path.join(projectRoot, 'server-kit'));
    expect(pack.status, pack.stderr).to.equal(0);
    const files = (JSON.parse(pack.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).to.include.members(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/graphql-yoga.js', 'dist/graphql-yoga.d.ts']);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).to.deep.equal([]);
    const manifest = JSON.parse(readFileSync(path.join(projectRoot, 'server-kit/package.json'), 'utf8')) as { dependencies: object; exports: object };
    expect(Object.keys(manifest.dependencies)).to.deep.equal(['jose']);
    expect(Object.keys(manifest.exports)).to.include.members(['.', './graphql-yoga']);
  });
});
