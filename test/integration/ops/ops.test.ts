import { expect } from 'chai';
import { createLocalJWKSet, jwtVerify } from 'jose';
import YAML from 'yaml';
import * as sdk from '../../../sdk/src/index.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { loggedInUser, registerBody, uniqueEmail } from '../../helpers/flows.js';
import { requestCode, uniquePhone } from '../../helpers/phone.js';

const allowedOrigin = 'http://app.sesame.test'; // CORS_ORIGINS of testConfig()

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  request_id: string;
  errors?: Array<{ path: string; message: string }>;
}

/** Asserts a problem+json answer (plain fetch) and returns its body. */
async function expectProblemResponse(res: Response, status: number, code: string): Promise<ProblemBody> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
  const body = JSON.parse(text) as ProblemBody;
  expect(body.code).to.equal(code);
  expect(body.status).to.equal(status);
  expect(body.type).to.equal(`urn:sesame:problem:${code}`);
  expect(body.request_id).to.be.a('string').and.not.equal('');
  return body;
}

/** The value of one Prometheus sample whose labels include `labels` (in any order). */
function sample(metricsText: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of metricsText.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const present = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) present.set(l[1]!, l[2]!);
    if (Object.entries(labels).every(([k, v]) => present.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}

function postJson(app: TestApp, path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

describe('ops: probes, keys, metrics, docs and HTTP conventions', () => {
  let app: TestApp;

  before(async () => {
    app = await startTestApp();
  });

  after(async () => {
    await app?.close();
  });

  describe('probes', () => {
    it('when the process runs, then /healthz answers 200 ok', async () => {
      const { data, response } = await sdk.getHealth({ client: app.client });
      expect(response?.status).to.equal(200);
      expect(data).to.deep.equal({ status: 'ok' });
    });

    it('when PostgreSQL and Redis answer, then /readyz answers 200 with both checks ok', async () => {
      const { data, error, response } = await sdk.getReadiness({ client: app.client });
      expect(response?.status, JSON.stringify(error)).to.equal(200);
      expect(data).to.deep.equal({ status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });
    });

    describe('when a dependency is down', () => {
      let broken: TestApp | undefined;

      afterEach(async () => {
        await broken?.close();
        broken = undefined;
      });

      it('when the Redis connection is closed, then /readyz answers 503 unavailable naming redis', async () => {
        broken = await startTestApp();
        await broken.store.close();
        const { data, error, response } = await sdk.getReadiness({ client: broken.client });
        expect(data).to.equal(undefined);
        expect(response?.status).to.equal(503);
        expect(error).to.deep.equal({ status: 'unavailable', checks: { postgres: 'ok', redis: 'unavailable' } });
      });

      it('when the PostgreSQL pool is destroyed (fallback store), then /readyz answers 503 with postgres and fast_store unavailable', async () => {
        broken = await startTestApp({ store: 'postgres' });
        await broken.db.destroy();
        const { error, response } = await sdk.getReadiness({ client: broken.client });
        expect(response?.status).to.equal(503);
        expect(error).to.deep.equal({ status: 'unavailable', checks: { postgres: 'unavailable', fast_store: 'unavailable' } });
      });
    });
  });

  describe('JWKS', () => {
    it('publishes at least one public EC P-256 ES256 signing key without private parts', async () => {
      const { data, error, response } = await sdk.getJwks({ client: app.client });
      expect(response?.status, JSON.stringify(error)).to.equal(200);
      expect(data!.keys.length).to.be.greaterThan(0);
      for (const key of data!.keys) {
        expect(key).to.include({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
        expect(key.kid).to.be.a('string').and.not.equal('');
        expect(key.x).to.be.a('string');
        expect(key.y).to.be.a('string');
        expect(key).to.not.have.property('d');
      }
      const kids = data!.keys.map((k) => k.kid);
      expect(new Set(kids).size).to.equal(kids.length);
    });

    it('when a user logs in, then the access token verifies against the published JWKS', async () => {
      const { session } = await loggedInUser(app);
      const { data } = await sdk.getJwks({ client: app.client });
      const jwks = createLocalJWKSet(data as never);
      const { payload, protectedHeader } = await jwtVerify(session.access_token, jwks, {
        algorithms: ['ES256'],
        currentDate: app.clock.now(),
      });
      expect(protectedHeader.alg).to.equal('ES256');
      expect(data!.keys.map((k) => k.kid)).to.include(protectedHeader.kid);
      expect(payload.sub).to.equal(session.user.id);
    });
  });

  describe('metrics', () => {
    it('after some traffic, /metrics is Prometheus text with the auth and HTTP metrics', async () => {
      await sdk.register({ client: app.client, body: registerBody() });
      await sdk.login({ client: app.client, body: { email: uniqueEmail('nobody'), password: 'Wrong-password-1!' } });
      await loggedInUser(app);

      const res = await fetch(`${app.url}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      for (const name of ['auth_login_attempts_total', 'auth_register_attempts_total', 'auth_active_sessions', 'http_request_duration_seconds']) {
        expect(text).to.match(new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'), name);
      }
      expect(sample(text, 'auth_register_attempts_total', { status: 'success', user_type: 'citizen' })).to.be.at.least(2);
      expect(sample(text, 'auth_login_attempts_total', { status: 'invalid_credentials', role: 'unknown' })).to.be.at.least(1);
      expect(sample(text, 'auth_login_attempts_total', { status: 'success', role: 'citizen' })).to.be.at.least(1);
      expect(sample(text, 'auth_active_sessions')).to.be.at.least(1);
      expect(sample(text, 'http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/auth/login', status: '401' })).to.be.at.least(1);
      expect(sample(text, 'http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/auth/register', status: '201' })).to.be.at.least(2);
    });
  });

  describe('the contract and its documentation', () => {
    it('serves the spec as JSON at /openapi.json', async () => {
      const res = await fetch(`${app.url}/openapi.json`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      const spec = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
      expect(spec.openapi).to.equal('3.0.3');
      expect(spec.paths).to.have.property('/api/v1/auth/login');
    });

    it('serves the same spec as YAML at /openapi.yaml', async () => {
      const res = await fetch(`${app.url}/openapi.yaml`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/yaml/);
      const spec = YAML.parse(await res.text()) as { openapi: string; paths: Record<string, unknown> };
      expect(spec.openapi).to.equal('3.0.3');
      expect(spec.paths).to.have.property('/api/v1/auth/login');
      const json = (await (await fetch(`${app.url}/openapi.json`)).json()) as unknown;
      expect(spec).to.deep.equal(json);
    });

    it('serves /docs as HTML that loads Swagger UI from this server, not from a CDN', async () => {
      const res = await fetch(`${app.url}/docs`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/html/);
      const html = await res.text();
      expect(html).to.include('/docs/assets/swagger-ui-bundle.js');
      expect(html).to.not.match(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}\//i);
      for (const [, src] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
        const asset = await fetch(`${app.url}${src}`);
        expect(asset.status, src).to.equal(200);
        await asset.arrayBuffer();
      }
    });

    it('serves the Swagger UI bundle as JavaScript', async () => {
      const res = await fetch(`${app.url}/docs/assets/swagger-ui-bundle.js`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/javascript/);
      expect((await res.text()).length).to.be.greaterThan(10_000);
    });
  });

  describe('HTTP errors are problem+json', () => {
    it('when the path is unknown, then 404 not_found', async () => {
      await expectProblemResponse(await fetch(`${app.url}/api/v1/no-such-thing`), 404, 'not_found');
    });

    it('when the method is not defined on a known path, then 405 method_not_allowed', async () => {
      await expectProblemResponse(await fetch(`${app.url}/api/v1/auth/login`), 405, 'method_not_allowed');
    });

    it('when a 405 is answered, then the Allow header lists the methods of the path (RFC 9110 §15.5.6)', async () => {
      const res = await fetch(`${app.url}/api/v1/auth/login`, { method: 'DELETE' });
      await expectProblemResponse(res, 405, 'method_not_allowed');
      expect(res.headers.get('allow') ?? '', 'Allow header').to.match(/\bPOST\b/);
    });

    it('when the JSON body is malformed, then 400 malformed_json', async () => {
      await expectProblemResponse(await postJson(app, '/api/v1/auth/login', '{"email": "a@example.com", '), 400, 'malformed_json');
    });

    it('when the body is text/plain, then 415 unsupported_media_type', async () => {
      const res = await fetch(`${app.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ email: uniqueEmail(), password: 'whatever' }),
      });
      await expectProblemResponse(res, 415, 'unsupported_media_type');
    });

    it('when the body has a property the contract does not define, then 400 validation_failed pointing at it', async () => {
      const res = await postJson(app, '/api/v1/auth/login', JSON.stringify({ email: uniqueEmail(), password: 'whatever', is_admin: true }));
      const problem = await expectProblemResponse(res, 400, 'validation_failed');
      expect(problem.errors).to.be.an('array').that.is.not.empty;
      for (const e of problem.errors!) expect(e.path).to.match(/^\/body(\/|$)/);
      expect(problem.errors!.map((e) => e.path)).to.include('/body/is_admin');
    });

    it('when a required property is missing, then 400 validation_failed with its /body path', async () => {
      const res = await postJson(app, '/api/v1/auth/login', JSON.stringify({ email: uniqueEmail() }));
      const problem = await expectProblemResponse(res, 400, 'validation_failed');
      expect(problem.errors!.map((e) => e.path)).to.include('/body/password');
    });

    describe('with BODY_LIMIT 1kb', () => {
      let small: TestApp;
      before(async () => {
        small = await startTestApp({ env: { BODY_LIMIT: '1kb' } });
      });
      after(async () => {
        await small?.close();
      });

      it('when the body is over the limit, then 413 payload_too_large', async () => {
        const body = JSON.stringify({ email: uniqueEmail(), password: 'x'.repeat(2048) });
        await expectProblemResponse(await postJson(small, '/api/v1/auth/login', body), 413, 'payload_too_large');
      });

      it('when the body is under the limit, then it is processed', async () => {
        const res = await postJson(small, '/api/v1/auth/login', JSON.stringify({ email: uniqueEmail(), password: 'Wrong-password-1!' }));
        await expectProblemResponse(res, 401, 'invalid_credentials');
      });
    });
  });

  describe('request ids', () => {
    it('every response carries an X-Request-Id, and problem bodies repeat it', async () => {
      const responses = await Promise.all([
        fetch(`${app.url}/healthz`),
        fetch(`${app.url}/metrics`),
        fetch(`${app.url}/.well-known/jwks.json`),
        fetch(`${app.url}/nowhere`),
        postJson(app, '/api/v1/auth/login', '{'),
      ]);
      const ids = responses.map((r) => r.headers.get('x-request-id'));
      for (const id of ids) expect(id).to.be.a('string').and.match(/^[A-Za-z0-9._-]{1,64}$/);
      expect(new Set(ids).size).to.equal(ids.length);
      const problem = (await responses[4]!.json()) as ProblemBody;
      expect(problem.request_id).to.equal(ids[4]);
      await Promise.all(responses.slice(0, 4).map((r) => r.arrayBuffer()));
    });

    it('when the client sends a valid X-Request-Id, then it is echoed', async () => {
      const id = `client-${Date.now()}.abc_DEF`;
      const res = await fetch(`${app.url}/api/v1/no-such-thing`, { headers: { 'x-request-id': id } });
      expect(res.headers.get('x-request-id')).to.equal(id);
      expect(((await res.json()) as ProblemBody).request_id).to.equal(id);
    });

    it('when the client sends an invalid X-Request-Id, then a fresh one replaces it', async () => {
      const bad = 'not valid<script>';
      const res = await fetch(`${app.url}/healthz`, { headers: { 'x-request-id': bad } });
      const id = res.headers.get('x-request-id');
      expect(id).to.be.a('string').and.not.equal(bad);
      expect(id).to.match(/^[A-Za-z0-9._-]{1,64}$/);
      await res.arrayBuffer();
    });
  });

  describe('CORS and security headers', () => {
    it('when the origin is allowed, then the response carries Access-Control-Allow-Origin for it', async () => {
      const res = await fetch(`${app.url}/healthz`, { headers: { origin: allowedOrigin } });
      expect(res.headers.get('access-control-allow-origin')).to.equal(allowedOrigin);
      expect(res.headers.get('access-control-allow-credentials')).to.equal('true');
      expect(res.headers.get('access-control-expose-headers') ?? '').to.include('X-Request-Id');
      await res.arrayBuffer();
    });

    it('when a preflight comes from the allowed origin, then it is answered with the allowed methods', async () => {
      const res = await fetch(`${app.url}/api/v1/auth/login`, {
        method: 'OPTIONS',
        headers: { origin: allowedOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      expect(res.status).to.be.oneOf([200, 204]);
      expect(res.headers.get('access-control-allow-origin')).to.equal(allowedOrigin);
      expect(res.headers.get('access-control-allow-methods') ?? '').to.include('POST');
      await res.arrayBuffer();
    });

    it('when the origin is foreign, then no Access-Control-Allow-Origin is sent', async () => {
      const res = await fetch(`${app.url}/healthz`, { headers: { origin: 'https://evil.example' } });
      expect(res.headers.get('access-control-allow-origin')).to.equal(null);
      await res.arrayBuffer();
    });

    it('responses carry helmet security headers and no X-Powered-By', async () => {
      const res = await fetch(`${app.url}/healthz`);
      expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
      expect(res.headers.get('x-frame-options')).to.equal('SAMEORIGIN');
      expect(res.headers.get('content-security-policy') ?? '').to.include("default-src 'self'");
      expect(res.headers.get('strict-transport-security')).to.be.a('string');
      expect(res.headers.get('x-powered-by')).to.equal(null);
      await res.arrayBuffer();
    });
  });

  describe('the dev outbox', () => {
    let other: TestApp | undefined;
    afterEach(async () => {
      await other?.close();
      other = undefined;
    });

    it('in test mode without SMTP_URL, it exists', async () => {
      const { response } = await sdk.listDevOutbox({ client: app.client, query: { to: uniqueEmail() } });
      expect(response?.status).to.equal(200);
    });

    it('when NODE_ENV is production, then /api/v1/dev/outbox is 404 and absent from the served spec', async () => {
      other = await startTestApp({ env: { NODE_ENV: 'production' } });
      const res = await fetch(`${other.url}/api/v1/dev/outbox?to=${encodeURIComponent(uniqueEmail())}`);
      await expectProblemResponse(res, 404, 'not_found');
      const spec = (await (await fetch(`${other.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      expect(spec.paths).to.not.have.property('/api/v1/dev/outbox');
    });

    it('when SMTP_URL and an SMS provider are set, then /api/v1/dev/outbox is 404', async () => {
      other = await startTestApp({ env: { SMTP_URL: 'smtp://127.0.0.1:2525', SMS_PROVIDER: 'twilio', SMS_ACCOUNT_SID: 'AC1', SMS_AUTH_TOKEN: 'token', SMS_FROM: '+15005550006' } });
      const res = await fetch(`${other.url}/api/v1/dev/outbox?to=${encodeURIComponent(uniqueEmail())}`);
      await expectProblemResponse(res, 404, 'not_found');
    });

    it('when only SMTP_URL is set, then the dev outbox shows SMS but no email', async () => {
      other = await startTestApp({ env: { SMTP_URL: 'smtp://127.0.0.1:2525' } });
      const email = uniqueEmail();
      expect((await sdk.register({ client: other.client, body: registerBody({ email }) })).response?.status).to.equal(201);
      expect((await sdk.listDevOutbox({ client: other.client, query: { to: email } })).data!.items).to.deep.equal([]);
      const phone = uniquePhone();
      await requestCode(other, phone, 'registration');
      expect((await sdk.listDevOutbox({ client: other.client, query: { to: phone } })).data!.items.map((m) => m.channel)).to.deep.equal(['sms']);
    });
  });
});
