/**
 * npm run bench — the SPEC §5 targets, each figure a ratio to a reference measured in the same
 * run (these machines are shared: absolute figures swing, ratios much less).
 *
 * The compiled server runs in a child process with production settings (real argon2id
 * parameters, access logs on) against PostgreSQL (BENCH_DATABASE_URL, default a local
 * `sesame_bench`) and a Redis of its own started here (or BENCH_REDIS_URL), with WORKERS=1 and
 * 2 (BENCH_WORKERS). autocannon drives it from this process on loopback. CPU time per request
 * is read from /proc: the server with all its processes and threads, the PostgreSQL backends of
 * the bench database and the Redis server. References, each measured right before the
 * scenario it is compared with: raw argon2id verifications (same parameters, as many libuv
 * threads as the server's workers together, same concurrency) and a bare Express "hello" with as
 * many workers. Rate limits are off (all the traffic comes from one
 * address); logins rotate over many accounts. Prints a table; exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import { hash, Algorithm } from '@node-rs/argon2';
import knexFactory from 'knex';
import { loadConfig } from '../src/config/config.js';
import { createDb, migrateAndSeed } from '../src/infra/db.js';
import { bareHello, cpuSince, processTree, rawArgon2, rssMb, snapshot, stopChild, waitUntil, type CpuSnapshot } from './bench-procfs.js';
import { timingReport } from './bench-timing.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const workerCounts = (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number);
const concurrencies = [1, 8, 50];
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/sesame_bench';
const port = Number(process.env.BENCH_PORT ?? 3999);
const helloPort = port + 1;
const redisPort = port + 2;
const base = `http://127.0.0.1:${port}`;
const password = 'Bench-Pass-2026!';
const { ARGON2_MEMORY_KIB: memoryKiB, ARGON2_TIME_COST: timeCost } = loadConfig({}); // the production defaults
const cores = availableParallelism();

interface Measured {
  perSecond: number;
  p50: number;
  p99: number;
  cpuPerRequest: number;
  failures: number;
  /** The answers that were not 2xx, by status. */
  refused: string;
}

async function ensureDatabase(): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = knexFactory({ client: 'pg', connection: url.toString() });
  if (!(await admin.raw('select 1 from pg_database where datname = ?', [name])).rows.length) await admin.raw(`create database "${name}"`);
  await admin.destroy();
}

/** A Redis of the bench's own, so that its CPU is the server's alone (none: BENCH_REDIS_URL). */
async function startRedis(): Promise<{ url: string; pid?: number; child?: ChildProcess }> {
  if (process.env.BENCH_REDIS_URL) return { url: process.env.BENCH_REDIS_URL };
  const child = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  process.on('exit', () => child.kill()); // even when a scenario throws
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const { Redis } = await import('ioredis');
  const probe = new Redis(redisPort, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  await waitUntil(async () => (await Promise.race([exited.then(() => 'exited'), probe.connect().then(() => 'up', () => 'down')])) !== 'down', 5000);
  if (child.exitCode !== null) throw new Error(`redis-server could not listen on ${redisPort} (BENCH_PORT + 2)`);
  probe.disconnect();
  return { url: `redis://127.0.0.1:${redisPort}`, pid: child.pid, child };
}

await ensureDatabase();
const db = createDb(databaseUrl, 2);
await migrateAndSeed(db);
const redis = await startRedis();
const passwordHash = await hash(password, { algorithm: Algorithm.Argon2id, memoryCost: memoryKiB, timeCost, parallelism: 1 });

/** Active accounts with the real hash (`status` pending for the verification-resend case). */
async function accounts(count: number, tag: string, status = 'active'): Promise<string[]> {
  const emails = Array.from({ length: count }, () => `bench.${tag}.${randomUUID()}@example.com`);
  const users: Array<{ id: string }> = await db('users')
    .insert(emails.map((email) => ({ email, password_hash: passwordHash, first_name: 'Bench', last_name: tag, status, email_verified_at: status === 'active' ? new Date() : null })))
    .returning('id');
  await db('user_actor_types').insert(users.map((u) => ({ user_id: u.id, actor_type: 'citizen' })));
  return emails;
}
const loginAccounts = await accounts(500, 'login');

/** The processes whose CPU a request costs: the server tree, its PostgreSQL backends, Redis. */
async function costPids(serverPid: number): Promise<number[]> {
  const { rows } = await db.raw('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
  return [...processTree(serverPid), ...rows.map((r: { pid: number }) => r.pid), ...(redis.pid ? [redis.pid] : [])];
}

/**
 * Waits (up to 15 s) until the processes use under 5 % of a core over 200 ms: work a previous
 * scenario left queued (hashes of logins whose clients are gone) is not billed to the next one.
 */
async function quiet(rootPid: number): Promise<void> {
  for (let i = 0; i < 75; i++) {
    const pids = await costPids(rootPid);
    const before = snapshot(pids);
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (cpuSince(before, pids) < 10) return;
  }
}

/** One autocannon run against a process tree; CPU per request from /proc. */
async function measure(rootPid: number, options: autocannon.Options): Promise<Measured> {
  await quiet(rootPid);
  const before: CpuSnapshot = snapshot(await costPids(rootPid));
  const result = await autocannon({ duration: seconds, ...options });
  const cpu = cpuSince(before, await costPids(rootPid));
  const total = result.requests.total;
  const refused = Object.entries(result.statusCodeStats ?? {})
    .filter(([status]) => !status.startsWith('2'))
    .map(([status, { count }]) => `${count ?? 0}× ${status}`)
    .join(', ');
  return { perSecond: total / result.duration, p50: result.latency.p50, p99: result.latency.p99, cpuPerRequest: cpu / Math.max(1, total), failures: result.non2xx + result.errors + result.timeouts, refused };
}

const json = { 'content-type': 'application/json' };
let nextAccount = 0;
const loginRequest: autocannon.Request = {
  method: 'POST',
  path: '/api/v1/auth/login',
  headers: json,
  setupRequest: (req) => ({ ...req, body: JSON.stringify({ email: loginAccounts[nextAccount++ % loginAccounts.length], password }) }),
};

interface Row {
  workers: number;
  what: string;
  connections: number | string;
  m?: Measured;
  reference?: string;
  ratio?: number;
  cpuRatio?: number;
  target?: string;
  note?: string;
  cpu?: number;
}
const rows: Row[] = [];

// Each scenario is measured right after its reference (the same minute on a shared machine).
let timing: string[] = [];
for (const workers of workerCounts) {
  const hello = await bareHello(helloPort, workers);
  /** The bare Express hello at `c` connections, measured now (and shown as a reference row). */
  const helloNow = async (c: number): Promise<Measured> => {
    await autocannon({ url: `http://127.0.0.1:${helloPort}/hello`, connections: c, duration: 1 }); // warm-up
    const m = await measure(hello.pid!, { url: `http://127.0.0.1:${helloPort}/hello`, connections: c });
    rows.push({ workers, what: '  bare Express hello (reference)', connections: c, m });
    return m;
  };
  /** Raw argon2id verifications at `c`, measured now; as many threads as the server's workers together. */
  const argonNow = async (c: number) => {
    const a = await rawArgon2({ memoryKiB, timeCost }, cores, c, seconds);
    rows.push({ workers, what: `  raw argon2id verify, ${cores} threads (reference)`, connections: c, note: a.perSecond.toFixed(0), cpu: a.cpuPerOp });
    return a;
  };

  const started = performance.now();
  const server = spawn(process.execPath, ['dist/src/main.cjs'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      WORKERS: String(workers),
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      KEY_ENCRYPTION_KEY: 'bench-only-key-encryption-secret-0123456789',
      PUBLIC_URL: base,
      LOCKOUT_MAX_FAILURES: '1000',
      ...Object.fromEntries(['LOGIN_IP', 'LOGIN_EMAIL', 'REGISTER_IP', 'GUEST_IP', 'PASSWORD_RESET_EMAIL', 'VERIFICATION_RESEND_EMAIL'].map((k) => [`RATE_LIMIT_${k}`, 'off'])),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    // Ready: the first request through the whole stack (validator included) is answered.
    await waitUntil(async () => (await fetch(`${base}/api/v1/actor-types`).catch(() => undefined))?.ok === true, 30_000);
    const readyMs = performance.now() - started;
    const serving = () => processTree(server.pid!).filter((p) => workers === 1 || p !== server.pid);
    const idle = Math.max(...serving().map((p) => rssMb(p).now));

    const sessions: Array<{ access_token: string; refresh_token: string }> = [];
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email: loginAccounts[i], password }) });
      sessions.push((await res.json()) as { access_token: string; refresh_token: string });
    }
    let nextSession = 0;
    const bearer = (path: string): autocannon.Request => ({
      method: 'GET',
      path,
      setupRequest: (req, context: { token?: string }) => {
        context.token ??= sessions[nextSession++ % sessions.length]!.access_token;
        return { ...req, headers: { authorization: `Bearer ${context.token}` } };
      },
    });
    const cheap = async (what: string, path: string, cs: number[], target: (r: number, m: Measured, c: number) => string) => {
      for (const c of cs) {
        await autocannon({ url: base, connections: c, duration: 1, requests: [bearer(path)] });
        const ref = await helloNow(c);
        const m = await measure(server.pid!, { url: base, connections: c, requests: [bearer(path)] });
        const ratio = m.perSecond / ref.perSecond;
        rows.push({ workers, what, connections: c, m, reference: 'hello', ratio, cpuRatio: ref.cpuPerRequest / m.cpuPerRequest, target: target(ratio, m, c) });
      }
    };
    await cheap('GET /auth/verify', '/api/v1/auth/verify', concurrencies, (r, m, c) => `≥ 90 % of hello: ${verdict(r >= 0.9)}${c === 8 ? `; p99 < 10 ms: ${verdict(m.p99 < 10)}` : ''}`);
    await cheap('GET /auth/profile', '/api/v1/auth/profile', [50], (r, m) => `p50 < 50 ms: ${verdict(m.p50 < 50)}; ≥ 25 % of hello: ${verdict(r >= 0.25)}`);

    for (const c of concurrencies) {
      const ref = await argonNow(c);
      const m = await measure(server.pid!, { url: base, connections: c, requests: [loginRequest] });
      const ratio = m.perSecond / ref.perSecond;
      const cpuRatio = ref.cpuPerOp / m.cpuPerRequest;
      rows.push({ workers, what: 'password login (500 accounts)', connections: c, m, reference: 'argon2', ratio, cpuRatio, target: `≥ 90 % of raw verify: ${verdict(ratio >= 0.9 && cpuRatio >= 0.9)}${c === 50 ? `; p50 < 200 ms: ${verdict(m.p50 < 200)}` : ''}` });
    }

    // Refresh chains: a connection takes a free chain for one request and gives it back with the
    // rotated token (autocannon resets a connection's context at each pass over `requests`).
    const chains = sessions.map((s) => ({ token: s.refresh_token }));
    for (const c of [8, 50]) {
      const refresh: autocannon.Request = {
        method: 'POST',
        path: '/api/v1/auth/refresh',
        headers: json,
        setupRequest: (req, context: { chain?: { token: string } }) => {
          context.chain = chains.pop();
          return { ...req, body: JSON.stringify({ refresh_token: context.chain!.token }) };
        },
        onResponse: (status, body, context: { chain?: { token: string } }) => {
          const chain = context.chain!;
          if (status === 200) chain.token = (JSON.parse(body) as { refresh_token: string }).refresh_token;
          chains.unshift(chain);
        },
      };
      const ref = await helloNow(c);
      const m = await measure(server.pid!, { url: base, connections: c, requests: [refresh] });
      rows.push({ workers, what: 'refresh (one chain per connection)', connections: c, m, reference: 'hello', ratio: m.perSecond / ref.perSecond, cpuRatio: ref.cpuPerRequest / m.cpuPerRequest, target: `≥ 1,000/s: ${verdict(m.perSecond >= 1000)}` });
    }
    if (!timing.length) timing = await timingReport(base, { known: await accounts(100, 'known'), pending: await accounts(100, 'pending', 'pending_verification') });
    const peak = Math.max(...serving().map((p) => rssMb(p).peak));
    rows.push({ workers, what: 'ready (start to first API answer)', connections: '-', note: `${readyMs.toFixed(0)} ms`, target: `< 1 s: ${verdict(readyMs < 1000)}` });
    rows.push({ workers, what: 'RSS per serving process', connections: '-', note: `idle ${idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB`, target: `< 100 / < 200 MB: ${verdict(idle < 100 && peak < 200)}` });
  } finally {
    await stopChild(server);
    await stopChild(hello);
  }
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}

const pct = (x?: number) => (x === undefined ? '' : `${(100 * x).toFixed(0)} %`);
const table = [['workers', 'scenario', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req', 'ratio by req/s', 'ratio by CPU', 'target']];
for (const r of rows) {
  const m = r.m;
  table.push([String(r.workers), r.what, String(r.connections), m ? m.perSecond.toFixed(0) : (r.note ?? ''), m ? m.p50.toFixed(1) : '', m ? m.p99.toFixed(1) : '', m ? m.cpuPerRequest.toFixed(2) : (r.cpu?.toFixed(2) ?? ''), r.reference ? `${pct(r.ratio)} of ${r.reference}` : '', r.reference ? pct(r.cpuRatio) : '', `${r.target ?? ''}${m?.failures ? ` (${m.failures} failed${m.refused ? `: ${m.refused}` : ''})` : ''}`]);
}
const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
console.log(`\nSésame benchmark: ${seconds} s per scenario, ${cores} cores, argon2id m=${memoryKiB} KiB t=${timeCost}; CPU = server processes + PostgreSQL backends${redis.pid ? ' + Redis' : ''}`);
console.log('ratio by CPU: CPU per operation of the reference / CPU per request (100 % = as cheap as the reference)\n');
for (const row of table) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
console.log(`\n${timing.join('\n')}`);

if (redis.child) await stopChild(redis.child);
await db.destroy();
