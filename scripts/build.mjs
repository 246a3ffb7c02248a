/**
 * npm run build: dist/ from src/, migrations/, seeds/ and knexfile.ts, one file per source, by
 * esbuild (well under a second; type-checking is `npm run typecheck`, part of `npm test`), and
 * dist/openapi.json from the contract.
 *   node scripts/build.mjs --if-stale   (npm start) builds only when a source changed, was added
 *                                       or removed since the last build, and says so
 * Plain JavaScript, so that it runs before anything is compiled and costs no TypeScript loader.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const stampFile = path.join('dist', '.build-stamp.json');
const ifStale = process.argv.includes('--if-stale');

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.c?ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const files = [...['src', 'migrations', 'seeds'].flatMap(sources), 'knexfile.ts'].sort();
const contract = path.join('openapi', 'openapi.yaml');
// What the output depends on: every source's path and modification time, the contract, this script.
const stamp = JSON.stringify([fileURLToPath(import.meta.url), contract, ...files].map((f) => [path.relative(root, f), statSync(f).mtimeMs]));
if (ifStale && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) process.exit(0);

const started = performance.now();
const reason = !ifStale ? 'npm run build' : existsSync(stampFile) ? 'sources changed since the last build' : 'first start';
console.log(`Building dist/ from the TypeScript sources (${reason})…`);
const esbuild = await import('esbuild');
rmSync('dist', { recursive: true, force: true });
const common = { outdir: 'dist', outbase: '.', platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning' };
await esbuild.build({ ...common, entryPoints: files.filter((f) => f.endsWith('.ts')), format: 'esm' });
// CommonJS sources (.cts) stay CommonJS: the entry point must run before any ES module loads.
await esbuild.build({ ...common, entryPoints: files.filter((f) => f.endsWith('.cts')), format: 'cjs', outExtension: { '.js': '.cjs' } });
// The contract as JSON, which src/shared/spec.ts reads instead of parsing the YAML at every start.
const { default: YAML } = await import('yaml');
writeFileSync(path.join('dist', 'openapi.json'), JSON.stringify(YAML.parse(readFileSync(contract, 'utf8'))));
writeFileSync(stampFile, stamp);
console.log(`Built ${files.length} files into dist/ in ${Math.round(performance.now() - started)} ms.`);
