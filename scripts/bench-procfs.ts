/**
 * What `npm run bench` reads from /proc: CPU time of process trees (every thread: utime + stime of
 * /proc/<pid>/stat) and resident memory, plus the reference processes it measures against.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone
  }
}

/** CPU time (ms) a process has used so far, all its threads together. */
export function cpuMs(pid: number): number {
  const f = statFields(pid);
  return f ? ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerSecond : 0;
}

/** The process and its descendants (a cluster primary and its workers). */
export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const f = statFields(pid);
    if (f) parents.set(pid, Number(f[1]));
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** CPU snapshot of a set of processes, to subtract from a later one (new pids count from zero). */
export type CpuSnapshot = Map<number, number>;
export const snapshot = (pids: number[]): CpuSnapshot => new Map(pids.map((p) => [p, cpuMs(p)]));
export function cpuSince(before: CpuSnapshot, pids: number[]): number {
  return pids.reduce((sum, p) => sum + Math.max(0, cpuMs(p) - (before.get(p) ?? 0)), 0);
}

/** Resident memory (MB) of a process now and at its peak (VmRSS, VmHWM). */
export function rssMb(pid: number): { now: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
    return { now: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return { now: 0, peak: 0 };
  }
}

/** Runs one of the bench's reference scripts (scripts/bench-*.mjs) in a child process. */
function reference(script: string, args: Array<string | number>, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), script), ...args.map(String)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
}

/**
 * The ceiling of password logins: argon2id verifications with the server's parameters, in a
 * process with as many libuv threads as the server's workers have together, `concurrency` at a
 * time, for `seconds`. Returns verifications per second and CPU ms per verification.
 */
export async function rawArgon2(params: { memoryKiB: number; timeCost: number }, threads: number, concurrency: number, seconds: number) {
  const child = reference('bench-argon2.mjs', [params.memoryKiB, params.timeCost, concurrency, seconds], { UV_THREADPOOL_SIZE: String(threads) });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  await new Promise((resolve) => child.once('exit', resolve));
  return JSON.parse(out) as { perSecond: number; cpuPerOp: number };
}

/** A bare Express "hello" with `workers` cluster workers (the yardstick of cheap endpoints). */
export async function bareHello(port: number, workers: number): Promise<ChildProcess> {
  const child = reference('bench-hello.mjs', [port, workers]);
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/hello`).catch(() => undefined))?.ok === true, 10_000);
  return child;
}

/** Polls `check` every 10 ms until it holds; throws after `ms`. */
export async function waitUntil(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(10);
  }
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}
