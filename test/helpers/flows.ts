import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../sdk/src/index.js';
import type { TestApp } from './app.js';

export const strongPassword = 'Sesame-Test-2026!';

export function uniqueEmail(tag = 'user'): string {
  return `${tag}.${randomUUID()}@example.com`;
}

export function registerBody(overrides: Partial<sdk.RegisterRequest> = {}): sdk.RegisterRequest {
  return {
    email: uniqueEmail(),
    password: strongPassword,
    password_confirm: strongPassword,
    first_name: 'Jean',
    last_name: 'Dupont',
    accept_terms: true,
    language: 'fr',
    ...overrides,
  };
}

/** The newest dev-outbox message sent to an address. */
export async function latestMessage(app: TestApp, to: string): Promise<sdk.OutboxMessage> {
  const { data, error } = await sdk.listDevOutbox({ client: app.client, query: { to } });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  expect(data!.items.length, `no message to ${to}`).to.be.greaterThan(0);
  return data!.items[0]!;
}

/** Registers through the API and returns the user and the emailed verification token. */
export async function registerUser(app: TestApp, overrides: Partial<sdk.RegisterRequest> = {}) {
  const body = registerBody(overrides);
  const { data, error } = await sdk.register({ client: app.client, body });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  const message = await latestMessage(app, body.email);
  expect(message.template).to.equal('email_verification');
  return { body, user: data!.user, verificationToken: message.token! };
}

/** The tokens of a login that needed no second factor (fails the test on an MFA challenge). */
export function tokensOf(data: sdk.LoginResponse | undefined): sdk.LoginSuccess {
  expect(data, 'no login response').to.not.equal(undefined);
  expect(data, 'expected tokens, got an MFA challenge').to.have.property('access_token');
  return data as sdk.LoginSuccess;
}

/** Registers, verifies and logs in: an active user with a session. */
export async function loggedInUser(app: TestApp, overrides: Partial<sdk.RegisterRequest> = {}, login: Partial<sdk.LoginRequest> = {}) {
  const registered = await registerUser(app, overrides);
  const verified = await sdk.verifyEmail({ client: app.client, body: { token: registered.verificationToken } });
  expect(verified.error, JSON.stringify(verified.error)).to.equal(undefined);
  const { data, error } = await sdk.login({ client: app.client, body: { email: registered.body.email, password: registered.body.password, ...login } });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  return { ...registered, session: tokensOf(data) };
}

/** Asserts a problem+json error with the given status and code. */
export function expectProblem(result: { error?: unknown; response?: Response }, status: number, code: string): sdk.Problem {
  expect(result.response?.status, JSON.stringify(result.error)).to.equal(status);
  expect(result.response?.headers.get('content-type')).to.match(/^application\/problem\+json/);
  const problem = result.error as sdk.Problem;
  expect(problem.code).to.equal(code);
  expect(problem.status).to.equal(status);
  expect(problem.request_id).to.be.a('string').and.not.equal('');
  expect(problem.type).to.equal(`urn:sesame:problem:${code}`);
  return problem;
}

/** Registers and verifies a user, with no session yet: the credentials to sign in with. */
export async function verifiedUser(app: TestApp, overrides: Partial<sdk.RegisterRequest> = {}) {
  const registered = await registerUser(app, overrides);
  const verified = await sdk.verifyEmail({ client: app.client, body: { token: registered.verificationToken } });
  expect(verified.error, JSON.stringify(verified.error)).to.equal(undefined);
  return { id: registered.user.id, email: registered.body.email, password: registered.body.password };
}

/** A fetch that records each request (`METHOD /path`) and passes it to the real server. */
export function countingFetch() {
  const calls: string[] = [];
  const counted: typeof fetch = (input, init) => {
    const request = new Request(input, init);
    calls.push(`${request.method} ${new URL(request.url).pathname}`);
    return fetch(request);
  };
  return { fetch: counted, calls, count: (call: string) => calls.filter((c) => c === call).length };
}
