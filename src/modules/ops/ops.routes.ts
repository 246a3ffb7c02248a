import { Router } from 'express';
import { createRequire } from 'node:module';
import path from 'node:path';
import express from 'express';
import YAML from 'yaml';
import type { Knex } from 'knex';
import { jwksMaxAgeSeconds, type SigningKeys } from '../../infra/keys.js';
import type { Metrics } from '../../infra/metrics.js';
import type { FastStore } from '../../infra/store/store.js';

const require = createRequire(import.meta.url);
const swaggerUiDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));

const docsPage = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Sésame API reference</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>`;

const docsInit = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });`;

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Routes outside the API contract's validation: probes, metrics, the spec and its docs. */
export function opsRoutes(deps: { db: Knex; store: FastStore; metrics: Metrics; spec: object }): Router {
  const r = Router();
  // The served contract describes this deployment: its server is wherever it was fetched from
  // (a relative URL), so the docs' "Try it out" calls this very server, on any host and port,
  // within the page's own Content-Security-Policy (connect-src 'self').
  const served = { ...deps.spec, servers: [{ url: '/', description: 'This server' }] };
  const specJson = JSON.stringify(served);
  // Made on its first request: stringifying the contract as YAML took a fifth of the start-up.
  let specYaml: string | undefined;
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    const check = async (probe: () => Promise<unknown>) =>
      within(2000, probe()).then(
        () => 'ok' as const,
        () => 'unavailable' as const,
      );
    const [postgres, store] = await Promise.all([check(() => deps.db.raw('select 1')), check(() => deps.store.ping())]);
    const ok = postgres === 'ok' && store === 'ok';
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks: { postgres, [deps.store.kind === 'redis' ? 'redis' : 'fast_store']: store } });
  });
  r.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  r.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(specJson);
  });
  r.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send((specYaml ??= YAML.stringify(served)));
  });
  r.get('/docs', (_req, res) => {
    res.type('html').send(docsPage);
  });
  r.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(docsInit);
  });
  r.use('/docs/assets', express.static(swaggerUiDir, { index: false, maxAge: '1h' }));
  return r;
}

export function jwksRoute(keys: SigningKeys): Router {
  const r = Router();
  r.get('/.well-known/jwks.json', async (_req, res) => {
    res.set('Cache-Control', `public, max-age=${jwksMaxAgeSeconds}`).json(await keys.jwks());
  });
  return r;
}
