/**
 * Drift check: bundles the spec's sources and compares the result with openapi/openapi.yaml,
 * regenerates the SDK into a scratch folder and compares it with sdk/src, then asks the Postman
 * generator whether postman/ is current. Exits 1 naming what is stale; the fix is
 * `npm run generate` and committing the result.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@hey-api/openapi-ts';
import config from '../openapi-ts.config.js';
import { bundleIsCurrent } from './bundle-spec.js';

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full, base) : [path.relative(base, full)];
  });
}

async function sdkDrift(): Promise<string[]> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'sesame-sdk-'));
  try {
    const base = (await config) as { output: object };
    await createClient({ ...base, output: { ...base.output, path: scratch }, logs: { level: 'silent' } } as never);
    const expected = listFiles(scratch).sort();
    const actual = listFiles('sdk/src').sort();
    const stale = new Set<string>();
    for (const f of new Set([...expected, ...actual])) {
      let a = '';
      let b = '';
      try {
        a = readFileSync(path.join(scratch, f), 'utf8');
        b = readFileSync(path.join('sdk/src', f), 'utf8');
      } catch {
        stale.add(f);
        continue;
      }
      if (a !== b) stale.add(f);
    }
    return [...stale].map((f) => `sdk/src/${f}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const specStale = !bundleIsCurrent();
if (specStale) console.error('The spec bundle openapi/openapi.yaml is stale: it differs from the bundle of openapi/root.yaml (run npm run generate).');
const stale = await sdkDrift();
const postman = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/generate-postman.ts', '--check'], { stdio: 'inherit', env: { ...process.env, REDOCLY_TELEMETRY: 'off' } });
if (stale.length) console.error(`The generated SDK is stale (run npm run generate):\n  ${stale.join('\n  ')}`);
if (specStale || stale.length || postman.status !== 0) process.exit(1);
console.log('Generated files are up to date (openapi/openapi.yaml, sdk/src, postman/).');
