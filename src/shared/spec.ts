import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

/** The project root (the folder with package.json), from src/ or from the compiled dist/src/. */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

export type OpenApiDocument = { paths: Record<string, unknown> } & Record<string, unknown>;

/** The contract as bundled in openapi/openapi.yaml (generated from openapi/root.yaml), optionally without the dev-only routes. */
export function loadSpec(options: { devRoutes: boolean }): OpenApiDocument {
  const yamlFile = path.join(projectRoot(), 'openapi', 'openapi.yaml');
  // `npm run build` keeps a JSON copy (dist/openapi.json): parsing the YAML costs ~0.2 s per start.
  const jsonFile = path.join(projectRoot(), 'dist', 'openapi.json');
  const json = existsSync(jsonFile) && statSync(jsonFile).mtimeMs >= statSync(yamlFile).mtimeMs;
  const spec = (json ? JSON.parse(readFileSync(jsonFile, 'utf8')) : YAML.parse(readFileSync(yamlFile, 'utf8'))) as OpenApiDocument;
  if (!options.devRoutes) {
    for (const p of Object.keys(spec.paths)) if (p.startsWith('/api/v1/dev/')) delete spec.paths[p];
    spec.tags = ((spec.tags as Array<{ name: string }>) ?? []).filter((t) => t.name !== 'dev');
  }
  return spec;
}
