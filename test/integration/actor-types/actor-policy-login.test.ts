import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { actorTypesRepo } from '../../../src/identity/actor-types.repo.js';
import { normalizeEmail } from '../../../src/identity/users.repo.js';
import { createCustomActorType, removeCustomActorTypesAfter } from '../../helpers/actor-types.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, registerUser, tokensOf, uniqueEmail } from '../../helpers/flows.js';
import { countVerifications, type AuditRow } from '../../helpers/probes.js';
import { adminUser } from '../../helpers/rbac.js';

describe('login: the actor type’s allowed methods come before the password', () => {
  let app: TestApp;
  let adminToken: string;
  const created: string[] = [];

  const customType = (overrides: Partial<sdk.ActorTypePolicy> = {}) => createCustomActorType(app, adminToken, created, overrides);
  /** A verified citizen (no session yet). */
  async function activeUser() {
    const registered = await registerUser(app);
    const verified = await sdk.verifyEmail({ client: app.client, body: { token: registered.verificationToken } });
    expect(verified.error, JSON.stringify(verified.error)).to.equal(undefined);
    return { id: registered.user.id, email: registered.body.email, password: registered.body.password };
  }
  const login = (body: sdk.LoginRequest) => sdk.login({ client: app.client, body });
  const lockoutRow = (email: string) => app.db('login_lockouts').where({ identifier: normalizeEmail(email) }).first();
  const failures = (userId: string): Promise<AuditRow[]> => app.db('audit_logs').where({ event: 'login.failed', user_id: userId });
  async function loginAttempts(status: string, role: string): Promise<number> {
    const metric = await app.running.container.metrics.loginAttempts.get();
    return metric.values.find((v) => v.labels.status === status && v.labels.role === role)?.value ?? 0;
  }

  removeCustomActorTypesAfter(() => app, created);
  useTestApp((started) => (app = started));
  before(async () => {
    adminToken = (await adminUser(app)).session.access_token;
  });

  it('a named type that does not allow passwords: 403 auth_method_not_allowed, no hashing, nothing counted, whoever asks', async () => {
    const smsOnly = await customType({ allowed_methods: ['sms'] });
    const who = await activeUser();
    await actorTypesRepo.grant(app.db, who.id, smsOnly); // held, yet refused: the policy comes first
    const stranger = uniqueEmail('nobody');
    const metricBefore = await loginAttempts('auth_method_not_allowed', smsOnly);
    const verifications = countVerifications(app);
    try {
      const right = expectProblem(await login({ email: who.email, password: who.password, actor_type: smsOnly }), 403, 'auth_method_not_allowed');
      const wrong = expectProblem(await login({ email: who.email, password: 'Wrong-Password-1!', actor_type: smsOnly }), 403, 'auth_method_not_allowed');
      const unknown = expectProblem(await login({ email: stranger, password: who.password, actor_type: smsOnly }), 403, 'auth_method_not_allowed');
      // The answer depends on the type only, never on the account.
      for (const p of [wrong, unknown]) expect({ title: p.title, detail: p.detail }).to.deep.equal({ title: right.title, detail: right.detail });
      expect(verifications.count).to.equal(0);
    } finally {
      verifications.restore();
    }
    expect(await lockoutRow(who.email)).to.equal(undefined);
    expect(await lockoutRow(stranger)).to.equal(undefined);
    expect(await failures(who.id)).to.deep.equal([]);
    expect((await loginAttempts('auth_method_not_allowed', smsOnly)) - metricBefore).to.equal(3);
  });

  it('an unknown named type: the same 403, before any hashing', async () => {
    const who = await activeUser();
    const verifications = countVerifications(app);
    try {
      expectProblem(await login({ email: who.email, password: who.password, actor_type: `nope-${randomBytes(4).toString('hex')}` }), 403, 'auth_method_not_allowed');
      expect(verifications.count).to.equal(0);
    } finally {
      verifications.restore();
    }
    expect(await lockoutRow(who.email)).to.equal(undefined);
  });

  it('the refusal comes before the lockout: a locked account still gets 403, and its lock is untouched', async () => {
    const smsOnly = await customType({ allowed_methods: ['sms'] });
    const who = await activeUser();
    const lockedUntil = new Date(app.clock.now().getTime() + 600_000);
    await app.db('login_lockouts').insert({ identifier: normalizeEmail(who.email), failures: 10, locked_until: lockedUntil, updated_at: app.clock.now() });
    const before = await lockoutRow(who.email);
    expectProblem(await login({ email: who.email, password: who.password, actor_type: smsOnly }), 403, 'auth_method_not_allowed');
    expect(await lockoutRow(who.email)).to.deep.equal(before);
    expectProblem(await login({ email: who.email, password: who.password }), 403, 'account_locked');
  });

  it('an account holding no type that allows passwords answers exactly like a wrong password, after one decoy verification', async () => {
    const smsOnly = await customType({ allowed_methods: ['sms'] });
    const who = await activeUser();
    await app.db('user_actor_types').where({ user_id: who.id }).delete();
    await actorTypesRepo.grant(app.db, who.id, smsOnly);
    const realHash = (await app.db('users').where({ id: who.id }).first('password_hash')).password_hash as string;
    const other = await activeUser();
    const wrongPassword = expectProblem(await login({ email: other.email, password: 'Wrong-Password-1!' }), 401, 'invalid_credentials');

    const hasher = app.running.container.hasher;
    const hashesVerified: string[] = [];
    hasher.verify = (hash, password) => {
      hashesVerified.push(hash);
      return Object.getPrototypeOf(hasher).verify.call(hasher, hash, password);
    };
    try {
      const refused = expectProblem(await login({ email: who.email, password: who.password }), 401, 'invalid_credentials');
      expect({ title: refused.title, detail: refused.detail }).to.deep.equal({ title: wrongPassword.title, detail: wrongPassword.detail });
      expect(hashesVerified).to.have.length(1);
      expect(hashesVerified[0]).to.not.equal(realHash);
      // Naming a password type the account does not hold changes nothing.
      expectProblem(await login({ email: who.email, password: who.password, actor_type: 'citizen' }), 401, 'invalid_credentials');
      expect(hashesVerified).to.have.length(2);
      expect(hashesVerified[1]).to.not.equal(realHash);
    } finally {
      delete (hasher as { verify?: unknown }).verify;
    }
    expect((await failures(who.id)).map((r) => r.details.reason)).to.deep.equal(['method_not_allowed', 'method_not_allowed']);
    expect((await lockoutRow(who.email))?.failures).to.equal(2);
  });

  it('without actor_type, the session acts as the strictest held type that allows passwords', async () => {
    const strictSmsOnly = await customType({ allowed_methods: ['sms'], priority: 500 });
    const who = await activeUser();
    await actorTypesRepo.grant(app.db, who.id, strictSmsOnly);
    const { data, error } = await login({ email: who.email, password: who.password });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    expect(decodeJwt(tokensOf(data).access_token).actor_type).to.equal('citizen');
    expect(tokensOf(data).user.actor_types).to.have.members(['citizen', strictSmsOnly]);
  });

  it('a named password type the account does not hold: 403 actor_type_not_held, only after a right password', async () => {
    const notHeld = await customType();
    const who = await activeUser();
    const verifications = countVerifications(app);
    try {
      expectProblem(await login({ email: who.email, password: 'Wrong-Password-1!', actor_type: notHeld }), 401, 'invalid_credentials');
      expectProblem(await login({ email: who.email, password: who.password, actor_type: notHeld }), 403, 'actor_type_not_held');
      expect(verifications.count).to.equal(2);
    } finally {
      verifications.restore();
    }
  });
});
