import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { projectRoot as findProjectRoot } from '../../src/shared/spec.js';

export const projectRoot = findProjectRoot();

/** A port nobody listens on at the moment. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The environment of a child server: this one without any Sésame setting (nor the lifecycle
 * variables of an enclosing `npm test`: a child `npm start` runs as a user's would), plus `settings`.
 */
export function childEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'KEY_ENCRYPTION_KEY', 'PUBLIC_URL', 'WORKERS', 'PORT', 'HOST', 'DATA_DIR', 'EMBEDDED_PG_PORT', 'UV_THREADPOOL_SIZE', 'NODE_ENV']) delete env[k];
  return { ...env, ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1', ...settings };
}

export interface LogLine {
  msg?: string;
  pid?: number;
  level?: number;
  [key: string]: unknown;
}

/** A child process whose stdout JSON lines are collected; `waitFor` resolves on a matching line. */
export class LoggedProcess {
  readonly lines: LogLine[] = [];
  readonly text: string[] = [];
  private waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    let rest = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const raw of parts) this.take(raw);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.text.push(chunk));
    this.exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  }

  private take(raw: string): void {
    this.text.push(raw);
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      return;
    }
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
  }

  /** The first line (already seen or to come) that matches; fails if the process exits first. */
  waitFor(match: (l: LogLine) => boolean): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return Promise.race([
      new Promise<LogLine>((resolve) => this.waiters.push({ match, resolve })),
      this.exited.then(({ code, signal }) => {
        throw new Error(`the process exited (${code ?? signal}) before the expected log line:\n${this.text.join('\n')}`);
      }),
    ]);
  }

  /** Stops the process if it still runs (SIGKILL after a grace period) and waits for its exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv): LoggedProcess {
  return new LoggedProcess(spawn(command, args, { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** `npm start` as the README says; dist/ is built first (when stale) by its prestart. */
export function npmStart(env: NodeJS.ProcessEnv): LoggedProcess {
  return startProcess('npm', ['start', '--silent'], env);
}

/** The compiled server alone (what `npm start` execs), built first when stale. */
export function startBuiltServer(env: NodeJS.ProcessEnv): LoggedProcess {
  buildIfStale();
  return startProcess(process.execPath, ['dist/src/main.cjs'], env);
}

export function buildIfStale(): string {
  const build = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: projectRoot, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
  return build.stdout;
}

/** Whether a process with this pid runs (a zombie waiting to be reaped does not). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return !existsSync('/proc/self/stat'); // without /proc, alive is all we know
  }
}

/**
 * Whether the process is gone within `ms`: a process that was told to stop may take a moment to
 * leave the process table after it said so (PostgreSQL removes postmaster.pid just before it exits).
 */
export async function exitsWithin(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

export const isReady = (l: LogLine) => l.msg === 'Sésame is ready';
