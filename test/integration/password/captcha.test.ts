import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { ConfigError } from '../../../src/config/config.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { countVerifications } from '../../helpers/probes.js';
import { expectProblem, loggedInUser, tokensOf, uniqueEmail } from '../../helpers/flows.js';

const wrongPassword = 'Wrong-Pass-2026!';
const captchaSecret = 'test-captcha-secret';

interface Posted {
  contentType: string | undefined;
  form: Record<string, string>;
}

/**
 * A stand-in for a siteverify endpoint: accepts the token 'good', refuses any other, answers
 * 500 for 'explode'; records every posted form.
 */
async function startVerifier(): Promise<{ url: string; posted: Posted[]; server: Server }> {
  const posted: Posted[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(raw));
      posted.push({ contentType: req.headers['content-type'], form });
      if (form.response === 'explode') {
        res.writeHead(500).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success: form.response === 'good' }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/siteverify`, posted, server };
}

/** A port nothing listens on. */
async function closedPortUrl(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/siteverify`;
}

describe('CAPTCHA after repeated login failures', () => {
  let app: TestApp;
  let verifier: Awaited<ReturnType<typeof startVerifier>>;

  before(async () => {
    verifier = await startVerifier();
    app = await startTestApp({ env: { CAPTCHA_VERIFY_URL: verifier.url, CAPTCHA_SECRET: captchaSecret } });
  });
  beforeEach(() => {
    verifier.posted.length = 0;
  });
  after(async () => {
    await app.close();
    verifier.server.close();
  });

  const login = (target: TestApp, email: string, password: string, captcha_token?: string) =>
    sdk.login({ client: target.client, body: { email, password, ...(captcha_token === undefined ? {} : { captcha_token }) } });
  const failures = async (target: TestApp, email: string) => (await target.db('login_lockouts').where({ identifier: email }).first())?.failures;
  async function failTimes(target: TestApp, email: string, times: number) {
    for (let i = 0; i < times; i++) expectProblem(await login(target, email, wrongPassword), 401, 'invalid_credentials');
  }

  it('asks for nothing before 3 failures', async () => {
    const { body } = await loggedInUser(app);
    await failTimes(app, body.email, 2);
    tokensOf((await login(app, body.email, body.password)).data);
    expect(verifier.posted).to.deep.equal([]);
  });

  it('after 3 failures, a missing answer is 400 captcha_required and a refused one 400 captcha_invalid; neither counts an attempt', async () => {
    const { body } = await loggedInUser(app);
    await failTimes(app, body.email, 3);
    const verifications = countVerifications(app);
    try {
      const missing = expectProblem(await login(app, body.email, body.password), 400, 'captcha_required');
      expect(missing.errors).to.deep.equal([{ path: '/body/captcha_token', message: 'is required' }]);
      expectProblem(await login(app, body.email, body.password, 'bad'), 400, 'captcha_invalid');
    } finally {
      verifications.restore();
    }
    expect(verifications.count).to.equal(0);
    expect(await failures(app, body.email)).to.equal(3);
    expect(verifier.posted).to.have.length(1);
  });

  it('with an accepted answer the login goes on as usual: a wrong password counts, the right one signs in and resets', async () => {
    const { body } = await loggedInUser(app);
    await failTimes(app, body.email, 3);
    expectProblem(await login(app, body.email, wrongPassword, 'good'), 401, 'invalid_credentials');
    expect(await failures(app, body.email)).to.equal(4);
    tokensOf((await login(app, body.email, body.password, 'good')).data);
    expect(await failures(app, body.email)).to.equal(0);
    tokensOf((await login(app, body.email, body.password)).data);
  });

  it('unknown emails need it the same way', async () => {
    const unknown = uniqueEmail('nobody');
    await failTimes(app, unknown, 3);
    expectProblem(await login(app, unknown, wrongPassword), 400, 'captcha_required');
    expectProblem(await login(app, unknown, wrongPassword, 'good'), 401, 'invalid_credentials');
  });

  it('posts secret, response and remoteip to the verifier as a form', async () => {
    const { body } = await loggedInUser(app);
    await failTimes(app, body.email, 3);
    await login(app, body.email, body.password, 'good');
    expect(verifier.posted).to.have.length(1);
    expect(verifier.posted[0]!.contentType).to.match(/^application\/x-www-form-urlencoded/);
    expect(verifier.posted[0]!.form).to.deep.equal({ secret: captchaSecret, response: 'good', remoteip: '127.0.0.1' });
  });

  it('a verifier that fails (500) answers 503 service_unavailable, not 500', async () => {
    const { body } = await loggedInUser(app);
    await failTimes(app, body.email, 3);
    expectProblem(await login(app, body.email, body.password, 'explode'), 503, 'service_unavailable');
    expect(await failures(app, body.email)).to.equal(3);
  });

  it('a verifier that cannot be reached answers 503 service_unavailable', async () => {
    const down = await startTestApp({ env: { CAPTCHA_VERIFY_URL: await closedPortUrl(), CAPTCHA_SECRET: captchaSecret } });
    try {
      const { body } = await loggedInUser(down);
      await failTimes(down, body.email, 3);
      expectProblem(await login(down, body.email, body.password), 400, 'captcha_required');
      expectProblem(await login(down, body.email, body.password, 'good'), 503, 'service_unavailable');
    } finally {
      await down.close();
    }
  });

  it('without the settings the hook is off', async () => {
    const plain = await startTestApp();
    try {
      const { body } = await loggedInUser(plain);
      await failTimes(plain, body.email, 5);
      tokensOf((await login(plain, body.email, body.password)).data);
      expect(verifier.posted).to.deep.equal([]);
    } finally {
      await plain.close();
    }
  });

  it('refuses to start with only one of CAPTCHA_VERIFY_URL and CAPTCHA_SECRET', async () => {
    const halfConfigured: Array<Record<string, string>> = [{ CAPTCHA_VERIFY_URL: verifier.url }, { CAPTCHA_SECRET: captchaSecret }];
    for (const env of halfConfigured) {
      const error = await startTestApp({ env }).then(
        async (started) => {
          await started.close();
          return undefined;
        },
        (err: unknown) => err,
      );
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as Error).message).to.match(/CAPTCHA_(SECRET|VERIFY_URL): required when/);
    }
  });
});
