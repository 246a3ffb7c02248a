import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { projectRoot } from '../../src/shared/spec.js';

/** This repository's TypeScript compiler and Vite, run with the current Node. */
export const tscBin = createRequire(import.meta.url).resolve('typescript/bin/tsc');
export const viteBin = path.join(projectRoot(), 'node_modules/vite/bin/vite.js');

/** Runs a command as a user would: without the lifecycle variables of an enclosing `npm test`. */
export function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  const result = spawnSync(command, args, { cwd, env: { ...inherited, ...env }, encoding: 'utf8' });
  if (result.error) throw result.error;
  return result;
}

/** Builds the SDK package (sdk/dist) when its sources changed: what a bundler resolves `@sesame/sdk` to. */
export function buildSdk(): void {
  const built = run(process.execPath, [tscBin, '-b', 'sdk'], projectRoot());
  if (built.status !== 0) throw new Error(`building the SDK failed:\n${built.stdout}${built.stderr}`);
}
