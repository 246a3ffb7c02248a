import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseEnv, promisify } from 'node:util';
import { expect } from 'chai';
import { childEnv, freePort, isReady, isRunning, projectRoot, startProcess, type LoggedProcess } from '../../helpers/processes.js';

const run = promisify(execFile);

/** README's "QA with Newman": its two shell blocks, the server's commands and the run's script. */
function documentedProcedure(): { serverCommands: string[]; runScript: string } {
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('QA with Newman\n'));
  if (!section) throw new Error('README has no "QA with Newman" section');
  const blocks = [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  expect(blocks, 'the server block and the run block').to.have.length(2);
  return { serverCommands: blocks[0]!.split('\n').filter((l) => l.trim() !== ''), runScript: blocks[1]! };
}

/** qa.env as `node --env-file` reads it. */
const qaSettings = () => parseEnv(readFileSync(path.join(projectRoot, 'qa.env'), 'utf8'));

function postmasterPid(dir: string): number | undefined {
  const file = path.join(dir, 'postgres', 'postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
}

describe('QA with Newman, as the README says (a real server process, Newman\'s CLI)', function () {
  this.timeout(180_000);
  let dataDir = '';
  let server: LoggedProcess | undefined;

  before(() => {
    // The embedded server runs as another OS user under root (postgres): the folder must be readable.
    dataDir = mkdtempSync(path.join(tmpdir(), 'sesame-qa-'));
    chmodSync(dataDir, 0o755);
  });
  after(async () => {
    await server?.stop();
    const pid = postmasterPid(dataDir);
    if (pid && isRunning(pid)) process.kill(pid, 'SIGINT');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('npm run qa:server, npm run admin:create -- --env-file qa.env, newman run: every assertion passes', async () => {
    const { serverCommands, runScript } = documentedProcedure();
    expect(serverCommands).to.deep.equal(['npm ci', 'npm run qa:server']);
    const settings = qaSettings();
    const documentedUrl = `http://${settings.HOST}:${settings.PORT}`;
    expect(runScript, 'the run names the address qa.env serves').to.include(`--env-var baseUrl=${documentedUrl} `);
    expect(runScript).to.include('npm run admin:create -- --env-file qa.env');

    // The documented server, on a temporary data folder and free ports (the environment wins over qa.env).
    const place = { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PORT: String(await freePort()) };
    server = startProcess('npm', ['run', 'qa:server'], childEnv(place));
    const url = String((await server.waitFor(isReady)).url);
    expect(url).to.equal(`http://${settings.HOST}:${place.PORT}`);

    // The documented run, word for word but the port; `newman` as a separate install puts it on the PATH.
    const script = runScript.replace(`baseUrl=${documentedUrl} `, `baseUrl=${url} `);
    const env = childEnv({ DATA_DIR: dataDir, PATH: `${path.join(projectRoot, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}` });
    const done = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: projectRoot, env, timeout: 150_000, maxBuffer: 64 * 1024 * 1024 }).then(
      (r) => ({ code: 0, output: `${r.stdout}${r.stderr}` }),
      (e: { code?: number; signal?: string; stdout?: string; stderr?: string }) => ({ code: e.code ?? e.signal, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    expect(done.code, done.output.replace(/[ \t]+/g, ' ').slice(-20_000)).to.equal(0);
    // The administrator was made by the documented command (it prints the id), on the server's database.
    expect(done.output).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/m);
    expect(done.output).to.match(/assertions\s*│\s*[1-9]\d*\s*│\s*0\s*│/);
    expect(done.output).to.include('The OAuth flow is skipped');
    const served = server.lines.map((l) => String((l.req as { url?: string } | undefined)?.url ?? ''));
    expect(served.filter((u) => u.startsWith('/api/v1/admin/users')), 'the admin flows ran against this server').to.not.be.empty;
  });
});
