/**
 * npm run bench — measures the SPEC §5 targets on this machine and prints the figures.
 * Starts the server as a child process (production settings, real argon2id parameters) against
 * PostgreSQL and Redis (BENCH_DATABASE_URL / BENCH_REDIS_URL, defaults: local services), then
 * drives it from this process with bounded loops on loopback only. The server runs with every
 * rate limit off (all the traffic comes from one IP) and a high lockout threshold (the load
 * scenarios log one account in many times in parallel, and the lockout counts attempts in flight).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import knexFactory from 'knex';
import { createDb, migrateAndSeed } from '../src/infra/db.js';
import { newApiKeySecret } from '../src/modules/api-keys/key-format.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/sesame_bench';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const port = Number(process.env.BENCH_PORT ?? 3999);
const helloPort = port + 1;
const base = `http://127.0.0.1:${port}`;
const password = 'Bench-Pass-2026!';

async function ensureDatabase(): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = knexFactory({ client: 'pg', connection: url.toString() });
  if (!(await admin.raw('select 1 from pg_database where datname = ?', [name])).rows.length) await admin.raw(`create database "${name}"`);
  await admin.destroy();
}

interface Result {
  count: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Runs `worker` in `concurrency` loops for the duration; each call is one timed operation. */
async function load(concurrency: number, durationS: number, op: (i: number) => Promise<boolean>): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + durationS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      while (performance.now() < end) {
        const t = performance.now();
        const ok = await op(i).catch(() => false);
        latencies.push(performance.now() - t);
        if (!ok) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { count: latencies.length, perSecond: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99), errors };
}

const post = (path: string, body: unknown) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const rss = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { now: kb('VmRSS'), peak: kb('VmHWM') };
};
/** The value at quantile p of sorted latencies. */
const quantile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/**
 * Login time for a wrong password on a known account vs an unknown email: `rounds` sequential
 * requests of each, interleaved. Wrong passwords spread over `accounts.length` accounts and
 * unknown emails over as many addresses, so no identifier comes near the lockout threshold.
 */
async function enumerationTiming(accounts: string[], rounds: number) {
  const strangers = accounts.map(() => `nobody.${randomUUID()}@example.com`);
  const timed = async (email: string) => {
    const t = performance.now();
    const res = await post('/api/v1/auth/login', { email, password: 'Not-The-Password-2026!' });
    await res.arrayBuffer();
    if (res.status !== 401) throw new Error(`expected 401 invalid_credentials, got ${res.status}`);
    return performance.now() - t;
  };
  await timed(accounts[0]!); // warm-up: the decoy hash is made on first use
  await timed(strangers[0]!);
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < rounds; i++) {
    known.push(await timed(accounts[i % accounts.length]!));
    unknown.push(await timed(strangers[i % strangers.length]!));
  }
  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9) };
  };
  return { rounds, known: stats(known), unknown: stats(unknown) };
}

/**
 * A bare Express "hello" server in a child process (so it does not share the bench's event loop,
 * as the Sésame server does not): the yardstick of the /auth/verify target.
 */
async function startBareHello(): Promise<ChildProcess> {
  const source = `import express from 'express';
const app = express();
app.get('/hello', (_req, res) => { res.json({ hello: 'world' }); });
app.listen(${helloPort}, '127.0.0.1');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`http://127.0.0.1:${helloPort}/hello`).catch(() => undefined))?.ok) return child;
    await sleep(25);
  }
  child.kill('SIGTERM');
  throw new Error('the bare Express server did not start');
}

/** One request, body read (so the connection is reused at once); true on the expected status. */
const hit = async (url: string, status: number, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status === status;
};

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
};

const fmt = (r: Result) => `${r.perSecond.toFixed(0)}/s (n=${r.count}, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, errors ${r.errors})`;
const verdict = (ok: boolean) => (ok ? 'MET ' : 'MISS');

await ensureDatabase();
const db = createDb(databaseUrl, 4);
await migrateAndSeed(db);

// Raw argon2id verify rate (OWASP parameters), the ceiling for password logins.
const owasp = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
const passwordHash = await hash(password, owasp);
const argon = await load(4, seconds, async () => verify(passwordHash, password));

const email = `bench.${randomUUID()}@example.com`;
const [user] = await db('users').insert({ email, password_hash: passwordHash, first_name: 'Bench', last_name: 'User', status: 'active', email_verified_at: new Date() }).returning('id');
await db('user_actor_types').insert({ user_id: user.id, actor_type: 'citizen' });
// Accounts that receive the wrong passwords of the enumeration timing scenario.
const timingAccounts = Array.from({ length: 20 }, () => `bench.timing.${randomUUID()}@example.com`);
const timingUsers: Array<{ id: string }> = await db('users')
  .insert(timingAccounts.map((e) => ({ email: e, password_hash: passwordHash, first_name: 'Bench', last_name: 'Timing', status: 'active', email_verified_at: new Date() })))
  .returning('id');
await db('user_actor_types').insert(timingUsers.map((u) => ({ user_id: u.id, actor_type: 'citizen' })));
// An API key of that user, for verify with X-API-Key (its own rate limit is off below).
const apiKey = newApiKeySecret('czo_');
await db('api_keys').insert({ user_id: user.id, name: 'bench', prefix: 'czo_', last_four: apiKey.lastFour, secret_hash: apiKey.hash, permissions: ['quiz:play:free'], created_at: new Date() });
const rateLimitsOff = Object.fromEntries(
  ['RATE_LIMIT_LOGIN_IP', 'RATE_LIMIT_LOGIN_EMAIL', 'RATE_LIMIT_REGISTER_IP', 'RATE_LIMIT_PASSWORD_RESET_EMAIL', 'RATE_LIMIT_VERIFICATION_RESEND_EMAIL', 'RATE_LIMIT_API_KEY'].map((k) => [k, 'off']),
);

// The compiled server, as `npm start` runs it (built first by the bench script).
const t0 = performance.now();
const server = spawn(process.execPath, ['dist/src/main.js'], {
  env: { ...process.env, NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, KEY_ENCRYPTION_KEY: 'bench-only-key-encryption-secret-0123456789', PUBLIC_URL: base, LOG_LEVEL: 'warn', ...rateLimitsOff, LOCKOUT_MAX_FAILURES: '1000' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
try {
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${base}/readyz`).catch(() => undefined))?.ok) break;
    await sleep(25);
  }
  const readyMs = performance.now() - t0;

  const hello = await load(50, seconds, async () => (await fetch(`${base}/healthz`)).ok);
  const login = await load(8, seconds, async () => (await post('/api/v1/auth/login', { email, password })).status === 200);

  const sessions = await Promise.all(Array.from({ length: 50 }, async () => (await (await post('/api/v1/auth/login', { email, password })).json()) as { access_token: string; refresh_token: string }));
  const profile = await load(50, seconds, async (i) => (await fetch(`${base}/api/v1/auth/profile`, { headers: { authorization: `Bearer ${sessions[i]!.access_token}` } })).ok);
  // /auth/verify against a bare Express endpoint, back to back so both see the same machine state.
  const bare = await startBareHello();
  let bareHello: Result;
  try {
    const helloOnce = () => hit(`http://127.0.0.1:${helloPort}/hello`, 200);
    await load(50, 1, helloOnce); // warm-up: both sides measured with a warm JIT
    bareHello = await load(50, seconds, helloOnce);
  } finally {
    await stop(bare);
  }
  const verifyOnce = (i: number) => hit(`${base}/api/v1/auth/verify`, 200, { authorization: `Bearer ${sessions[i]!.access_token}` });
  await load(50, 1, verifyOnce);
  const verifyGet = await load(50, seconds, verifyOnce);
  // One connection: the service time alone, without 50 requests queueing on two cores.
  const verifyAlone = await load(1, Math.min(seconds, 3), verifyOnce);
  const verifyKeyOnce = () => hit(`${base}/api/v1/auth/verify`, 200, { 'x-api-key': apiKey.secret });
  await load(50, 1, verifyKeyOnce);
  const verifyKey = await load(50, seconds, verifyKeyOnce);
  const refreshTokens = sessions.map((s) => s.refresh_token);
  const refresh = await load(16, seconds, async (i) => {
    const res = await post('/api/v1/auth/refresh', { refresh_token: refreshTokens[i] });
    if (res.status !== 200) return false;
    refreshTokens[i] = ((await res.json()) as { refresh_token: string }).refresh_token;
    return true;
  });
  const timing = await enumerationTiming(timingAccounts, Number(process.env.BENCH_TIMING_ROUNDS ?? 200));
  const memory = rss(server.pid!);

  console.log(`\nSésame benchmark (${seconds} s per scenario, 2-core machine expected)\n`);
  console.log(`raw argon2id verify (4 threads)   ${fmt(argon)}`);
  console.log(`password login (8 conns)          ${fmt(login)}`);
  console.log(`  ${verdict(login.perSecond >= 0.9 * argon.perSecond)} ≥ 90 % of raw verify rate: ${((100 * login.perSecond) / argon.perSecond).toFixed(0)} %`);
  console.log(`  ${verdict(login.perSecond >= 100)} ≥ 100 logins/s`);
  console.log(`  ${verdict(login.p50 < 200)} login p50 < 200 ms`);
  console.log(`bare endpoint /healthz (50 conns) ${fmt(hello)}`);
  console.log(`session validation GET /profile   ${fmt(profile)}`);
  console.log(`  ${verdict(profile.p50 < 50)} p50 < 50 ms; ${verdict(profile.p99 < 10)} p99 < 10 ms at 50 connections; ${((100 * profile.perSecond) / hello.perSecond).toFixed(0)} % of the bare endpoint`);
  const verifyRatio = verifyGet.perSecond / bareHello.perSecond;
  console.log(`bare Express hello (50 conns)     ${fmt(bareHello)}`);
  console.log(`GET /auth/verify (50 conns)       ${fmt(verifyGet)}`);
  console.log(`  ${verdict(verifyRatio >= 0.7)} ≥ 70 % of bare Express: ${(100 * verifyRatio).toFixed(0)} %; ${verdict(verifyGet.p99 < 10)} p99 < 10 ms at 50 connections (${verifyGet.p99.toFixed(1)} ms; bare Express ${bareHello.p99.toFixed(1)} ms)`);
  console.log(`GET /auth/verify (1 conn)         ${fmt(verifyAlone)}`);
  console.log(`GET /auth/verify, X-API-Key (50)  ${fmt(verifyKey)} (${((100 * verifyKey.perSecond) / bareHello.perSecond).toFixed(0)} % of bare Express; two indexed reads per request, no write)`);
  console.log(`refresh (16 conns)                ${fmt(refresh)}`);
  console.log(`  ${verdict(refresh.perSecond >= 1000)} ≥ 1,000 refreshes/s`);
  console.log(`login timing, ${timing.rounds} sequential requests each, interleaved (no enumeration by timing):`);
  console.log(`  known email, wrong password      p50 ${timing.known.p50.toFixed(1)} ms, p90 ${timing.known.p90.toFixed(1)} ms`);
  console.log(`  unknown email                    p50 ${timing.unknown.p50.toFixed(1)} ms, p90 ${timing.unknown.p90.toFixed(1)} ms`);
  console.log(`  difference (unknown - known)     p50 ${(timing.unknown.p50 - timing.known.p50).toFixed(1)} ms, p90 ${(timing.unknown.p90 - timing.known.p90).toFixed(1)} ms`);
  console.log(`memory: RSS ${memory.now.toFixed(0)} MB now, ${memory.peak.toFixed(0)} MB peak  ${verdict(memory.peak < 200)} < 200 MB`);
  console.log(`ready after ${readyMs.toFixed(0)} ms (process start to /readyz ok)  ${verdict(readyMs < 2000)} < 2 s`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await db.destroy();
}
