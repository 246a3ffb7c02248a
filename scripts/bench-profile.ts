/**
 * npm run bench:profile -- profile|refresh|login — where a serving process's main thread spends
 * its time under one scenario of `npm run bench` (50 connections; login at 8): the compiled
 * server runs with --cpu-prof (production settings, WORKERS=1) against the accounts `npm run
 * bench` left in its database, autocannon drives it for 10 s, then the profile's self time is
 * printed by package and by function. Wall-clock samples: on two busy cores a thread waiting for
 * a core shows up in whatever it was doing (syscalls such as writev, mostly).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import autocannon from 'autocannon';
import knexFactory from 'knex';

const scenario = process.argv[2] ?? 'profile';
if (!['profile', 'refresh', 'login'].includes(scenario)) throw new Error('usage: npm run bench:profile -- profile|refresh|login');
const port = 4700;
const base = `http://127.0.0.1:${port}`;
const password = 'Bench-Pass-2026!';
const dbUrl = 'postgres://postgres@127.0.0.1:5432/sesame_bench';
const db = knexFactory({ client: 'pg', connection: dbUrl });
const emails: string[] = (await db('users').where('email', 'like', 'bench.login.%').limit(300).select('email')).map((r: { email: string }) => r.email);
await db.destroy();
if (emails.length < 300) throw new Error('run npm run bench first: it creates the accounts this profile signs in with');
const dir = `/tmp/prof/${scenario}`;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const server = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, 'dist/src/main.cjs'], {
  env: { ...process.env, NODE_ENV: 'production', WORKERS: '1', PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: dbUrl, REDIS_URL: 'redis://127.0.0.1:6379/10', KEY_ENCRYPTION_KEY: 'bench-only-key-encryption-secret-0123456789', PUBLIC_URL: base, LOCKOUT_MAX_FAILURES: '1000',
    ...Object.fromEntries(['LOGIN_IP', 'LOGIN_EMAIL', 'REGISTER_IP', 'GUEST_IP', 'PASSWORD_RESET_EMAIL', 'VERIFICATION_RESEND_EMAIL'].map((k) => [`RATE_LIMIT_${k}`, 'off'])) },
  stdio: ['ignore', 'ignore', 'inherit'],
});
for (let i = 0; i < 300; i++) { if ((await fetch(`${base}/api/v1/actor-types`).catch(() => undefined))?.ok) break; await new Promise((r) => setTimeout(r, 50)); }
const json = { 'content-type': 'application/json' };
const sessions: Array<{ access_token: string; refresh_token: string }> = [];
for (let i = 0; i < 60; i++) sessions.push(await (await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email: emails[i], password }) })).json() as never);
let n = 0;
let requests: autocannon.Request[];
let connections = 50;
if (scenario === 'profile') requests = [{ method: 'GET', path: '/api/v1/auth/profile', setupRequest: (req, ctx: { t?: string }) => { ctx.t ??= sessions[n++ % sessions.length]!.access_token; return { ...req, headers: { authorization: `Bearer ${ctx.t}` } }; } }];
else if (scenario === 'refresh') {
  const chains = sessions.map((s) => ({ token: s.refresh_token }));
  requests = [{ method: 'POST', path: '/api/v1/auth/refresh', headers: json,
    setupRequest: (req, ctx: { c?: { token: string } }) => { ctx.c = chains.pop(); return { ...req, body: JSON.stringify({ refresh_token: ctx.c!.token }) }; },
    onResponse: (status, body, ctx: { c?: { token: string } }) => { if (status === 200) ctx.c!.token = JSON.parse(body).refresh_token; chains.unshift(ctx.c!); } }];
} else { connections = 8; requests = [{ method: 'POST', path: '/api/v1/auth/login', headers: json, setupRequest: (req) => ({ ...req, body: JSON.stringify({ email: emails[60 + (n++ % 240)], password }) }) }]; }
const result = await autocannon({ url: base, connections, duration: 10, requests });
console.log(scenario, 'req/s', result.requests.average, 'p50', result.latency.p50, 'non2xx', result.non2xx);
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; children?: number[] };
const prof = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byFn = new Map<string, number>(); const byPkg = new Map<string, number>();
for (const node of prof.nodes) {
  const t = self.get(node.id) ?? 0; if (!t) continue;
  const url = node.callFrame.url;
  const pkg = !url ? `(${node.callFrame.functionName || 'native'})` : url.includes('node_modules/') ? url.split('node_modules/').pop()!.split('/').slice(0, url.split('node_modules/').pop()!.startsWith('@') ? 2 : 1).join('/') : url.startsWith('node:') ? url : url.includes('/dist/') ? 'sesame:' + url.split('/dist/')[1] : url;
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t);
  const fn = `${node.callFrame.functionName || '(anon)'} ${pkg}:${node.callFrame.lineNumber}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + t);
}
const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, t]) => `${(100 * t / total).toFixed(1).padStart(5)} %  ${name}`).join('\n');
console.log(`main thread: ${(total / 1000).toFixed(0)} ms sampled\n-- by package\n${top(byPkg, 22)}\n-- by function\n${top(byFn, 25)}`);
