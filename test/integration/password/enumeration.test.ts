import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { countVerifications } from '../../helpers/probes.js';
import { expectProblem, loggedInUser, registerBody, registerUser, strongPassword, uniqueEmail } from '../../helpers/flows.js';

const wrongPassword = 'Wrong-Pass-2026!';

/** Headers that legitimately differ between two answers: the request id, the date, the body's ETag (ids differ). */
const varyingHeaders = new Set(['x-request-id', 'date', 'etag']);

/** An answer as a client sees it, minus what identifies the request or the record: status, headers, body. */
function observable(result: { data?: unknown; error?: unknown; response?: Response }, ignoredFields: string[] = ['request_id']) {
  const headers: Record<string, string> = {};
  result.response!.headers.forEach((value, name) => {
    if (!varyingHeaders.has(name)) headers[name] = value;
  });
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([k]) => !ignoredFields.includes(k)).map(([k, v]) => [k, strip(v)]));
    return value;
  };
  return { status: result.response!.status, headers, body: strip(result.error ?? result.data) };
}

describe('no account enumeration', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const login = (email: string, password: string) => sdk.login({ client: app.client, body: { email, password } });

  it('login: an unknown email and a wrong password get the same answer, each for one argon2 verification and one counted attempt', async () => {
    const { body } = await loggedInUser(app);
    const unknown = uniqueEmail('nobody');
    await login(uniqueEmail('warm-up'), wrongPassword); // the decoy hash is made on first use
    const verifications = countVerifications(app);
    let wrong: Awaited<ReturnType<typeof login>>;
    let stranger: Awaited<ReturnType<typeof login>>;
    let afterWrong: number;
    try {
      wrong = await login(body.email, wrongPassword);
      afterWrong = verifications.count;
      stranger = await login(unknown, wrongPassword);
    } finally {
      verifications.restore();
    }
    expectProblem(wrong, 401, 'invalid_credentials');
    expect(observable(stranger)).to.deep.equal(observable(wrong));
    expect(afterWrong).to.equal(1);
    expect(verifications.count).to.equal(2);
    const rows = await app.db('login_lockouts').whereIn('identifier', [body.email, unknown]).select('failures');
    expect(rows.map((r) => r.failures)).to.deep.equal([1, 1]);
  });

  it('login: a locked known account and a locked unknown email get the same answer', async () => {
    const { body } = await loggedInUser(app);
    const unknown = uniqueEmail('nobody');
    for (let i = 0; i < 10; i++) {
      await login(body.email, wrongPassword);
      await login(unknown, wrongPassword);
    }
    const known = await login(body.email, body.password);
    expectProblem(known, 403, 'account_locked');
    expect(known.response!.headers.get('retry-after')).to.equal('1800');
    expect(observable(await login(unknown, strongPassword))).to.deep.equal(observable(known));
  });

  it('register: an email already registered gets the same answer as a new one', async () => {
    const body = registerBody();
    const fresh = await sdk.register({ client: app.client, body });
    expect(fresh.response!.status).to.equal(201);
    const again = await sdk.register({ client: app.client, body });
    const ignored = ['id', 'created_at', 'updated_at'];
    expect(observable(again, ignored)).to.deep.equal(observable(fresh, ignored));
  });

  it('password reset request: a known and an unknown email get the same answer', async () => {
    const { body } = await loggedInUser(app);
    const known = await sdk.requestPasswordReset({ client: app.client, body: { email: body.email } });
    expect(known.response!.status).to.equal(202);
    expect(observable(await sdk.requestPasswordReset({ client: app.client, body: { email: uniqueEmail('nobody') } }))).to.deep.equal(observable(known));
  });

  it('verification resend: a pending account and an unknown email get the same answer', async () => {
    const { body } = await registerUser(app);
    const known = await sdk.resendVerificationEmail({ client: app.client, body: { email: body.email } });
    expect(known.response!.status).to.equal(202);
    expect(observable(await sdk.resendVerificationEmail({ client: app.client, body: { email: uniqueEmail('nobody') } }))).to.deep.equal(observable(known));
  });
});
