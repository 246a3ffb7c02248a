/**
 * Generates the Postman collection and environment in postman/ from openapi/openapi.yaml (the
 * spec's bundle) with Portman (config in portman/). Never edit postman/ by hand: change the spec
 * or portman/ and run this again.
 *
 *   npx tsx scripts/generate-postman.ts          write postman/*.json
 *   npx tsx scripts/generate-postman.ts --check  exit 1 if postman/ is not up to date
 *
 * Portman runs fully offline (local spec, no Postman sync, no Newman) in a child process whose
 * working directory is a scratch folder, because it writes ./tmp/... beside its cwd and reads
 * `file:` scripts relative to it. The output is made deterministic: Math.random is seeded in the
 * Portman process (portman/deterministic-random.cjs) and the random uuid ids Postman gives to
 * the collection, folders, requests and scripts are replaced by ids derived from their names.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PORTMAN_DIR = join(ROOT, 'portman');
const OUT_DIR = join(ROOT, 'postman');
export const COLLECTION_FILE = join(OUT_DIR, 'sesame.postman_collection.json');
export const ENVIRONMENT_FILE = join(OUT_DIR, 'sesame.postman_environment.json');
export const DEFAULT_BASE_URL = 'http://localhost:3000';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A uuid-shaped id derived from a stable key (RFC 4122 variant bits, version 5 layout). */
function stableId(key: string): string {
  const h = createHash('sha1').update(`sesame-postman:${key}`).digest('hex');
  const variant = ((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Replace every `id` (and the collection's postman id) by an id derived from the node's path, where array
 * elements are named by their `name` (items, folders) or `listen` (events) when they have one.
 * Also drop Portman's internal `_portman_operation` markers if any leak through.
 */
function stabilise(node: Json, path: string, seen: Set<string>): void {
  if (Array.isArray(node)) {
    const used = new Map<string, number>();
    node.forEach((child, index) => {
      let label = String(index);
      if (isObject(child)) {
        const name = child['name'];
        const listen = child['listen'];
        if (typeof name === 'string') label = name;
        else if (typeof listen === 'string') label = listen;
      }
      const n = used.get(label) ?? 0;
      used.set(label, n + 1);
      stabilise(child, `${path}/${n === 0 ? label : `${label}#${n}`}`, seen);
    });
    return;
  }
  if (!isObject(node)) return;
  delete node['_portman_operation'];
  for (const key of ['id', '_postman_id', 'postman_id']) {
    if (typeof node[key] === 'string') {
      if (seen.has(path)) throw new Error(`Two nodes share the stable path ${path}`);
      seen.add(path);
      node[key] = stableId(`${path}#${key}`);
    }
  }
  for (const [key, value] of Object.entries(node)) stabilise(value, `${path}/${key}`, seen);
}

function runPortman(): JsonObject {
  const require = createRequire(import.meta.url);
  const portmanBin = join(dirname(require.resolve('@apideck/portman/package.json')), 'bin', 'portman');
  const scratch = mkdtempSync(join(tmpdir(), 'sesame-portman-'));
  try {
    // Portman resolves the spec, its config and `file:` scripts against its cwd.
    symlinkSync(PORTMAN_DIR, join(scratch, 'portman'), 'dir');
    symlinkSync(join(ROOT, 'openapi'), join(scratch, 'openapi'), 'dir');

    // A clean environment: PORTMAN_* variables would be injected as collection variables and
    // POSTMAN_* ones only matter for syncing to Postman, which is off.
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!k.startsWith('PORTMAN_') && !k.startsWith('POSTMAN_')) env[k] = v;
    }
    env['REDOCLY_TELEMETRY'] = 'off';
    env['FORCE_COLOR'] = '0';

    const result = spawnSync(
      process.execPath,
      [
        '--require',
        join(PORTMAN_DIR, 'deterministic-random.cjs'),
        portmanBin,
        '--cliOptionsFile',
        'portman/portman-cli-options.json',
        '--syncPostman',
        'false',
        '--runNewman',
        'false',
      ],
      { cwd: scratch, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    const produced = join(scratch, 'out', 'collection.json');
    if (result.status !== 0 || !existsSync(produced)) {
      process.stderr.write(output);
      throw new Error(`Portman failed (exit ${result.status ?? result.signal})`);
    }
    // A config Portman cannot parse (a YAML error, such as over 100 uses of one alias) is only
    // reported, and the collection is written without any of it: fail on it.
    if (/Portman config file not provided/.test(output)) {
      process.stderr.write(output);
      throw new Error('Portman could not read portman/portman-config.yaml');
    }
    // Portman reports config targets that match nothing in the spec as a warning: fail on it.
    if (/WARNING: The following targets are missing/.test(output)) {
      process.stderr.write(output);
      throw new Error('Portman config targets operations missing from the spec');
    }
    return JSON.parse(readFileSync(produced, 'utf8')) as JsonObject;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function buildEnvironment(): JsonObject {
  return {
    id: stableId('environment'),
    name: 'Sésame (local)',
    // The variables a run is given (README, "QA with Newman"), and no other: an environment value
    // would shadow the collection variables the scripts set.
    values: [
      { key: 'baseUrl', value: DEFAULT_BASE_URL, type: 'default', enabled: true },
      { key: 'admin_email', value: '', type: 'default', enabled: true },
      { key: 'admin_password', value: '', type: 'secret', enabled: true },
    ],
    _postman_variable_scope: 'environment',
  };
}

const toText = (value: Json): string => `${JSON.stringify(value, null, 2)}\n`;

export function generate(): { collection: string; environment: string } {
  const collection = runPortman();
  stabilise(collection, '', new Set());
  // The Postman SDK also writes the collection id as `_.postman_id`: keep both in step.
  const info = collection['info'];
  const sdk = collection['_'];
  if (isObject(info) && isObject(sdk) && typeof sdk['postman_id'] === 'string') sdk['postman_id'] = info['_postman_id'] ?? null;
  return { collection: toText(collection), environment: toText(buildEnvironment()) };
}

function main(): void {
  const check = process.argv.includes('--check');
  const { collection, environment } = generate();
  const files: Array<[string, string]> = [
    [COLLECTION_FILE, collection],
    [ENVIRONMENT_FILE, environment],
  ];
  if (check) {
    const stale = files.filter(([file, text]) => !existsSync(file) || readFileSync(file, 'utf8') !== text);
    for (const [file] of stale) console.error(`out of date: ${file}`);
    if (stale.length > 0) {
      console.error('Run: npx tsx scripts/generate-postman.ts');
      process.exit(1);
    }
    console.log('postman/ is up to date');
    return;
  }
  mkdirSync(OUT_DIR, { recursive: true });
  for (const [file, text] of files) {
    writeFileSync(file, text);
    console.log(`wrote ${file}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
