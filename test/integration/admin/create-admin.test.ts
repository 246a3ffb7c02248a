import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { createAdmin } from '../../../src/modules/users/create-admin.js';
import { AppError } from '../../../src/shared/errors.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { testDatabaseUrl } from '../../helpers/env.js';
import { expectProblem, registerUser, tokensOf, uniqueEmail } from '../../helpers/flows.js';

const run = promisify(execFile);

describe('first administrator (createAdmin and npm run admin:create)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const hasher = () => app.running.container.hasher;
  const adminPassword = 'Admin-Sesame-2026!';
  const rolesOf = async (userId: string) =>
    (await app.db('user_roles as ur').join('roles as r', 'r.id', 'ur.role_id').where('ur.user_id', userId).orderBy('r.name').select('r.name')).map((r: { name: string }) => r.name);
  const actorTypesOf = async (userId: string) => (await app.db('user_actor_types').where({ user_id: userId }).orderBy('actor_type').select('actor_type')).map((r: { actor_type: string }) => r.actor_type);

  it('creates an active, verified account that logs in and holds the role admin (actor type agent)', async () => {
    const email = uniqueEmail('Root');
    const id = await createAdmin(app.db, app.clock, hasher(), { email, password: adminPassword, firstName: 'Ada', lastName: 'Lovelace', actorType: 'agent' });
    const login = await sdk.login({ client: app.client, body: { email, password: adminPassword } });
    const tokens = tokensOf(login.data);
    expect(tokens.user).to.deep.include({ id, email: email.toLowerCase(), status: 'active', email_verified: true, first_name: 'Ada', last_name: 'Lovelace', actor_types: ['agent'] });
    expect(decodeJwt(tokens.access_token)).to.deep.include({ actor_type: 'agent', roles: ['admin'], permissions: ['*:*:*'] });
    const read = await sdk.getUser({ client: app.client, auth: tokens.access_token, path: { user_id: id } });
    expect(read.data!.roles.map((r) => r.name)).to.deep.equal(['admin']);
    // And the administrator can read someone else.
    const { user } = await registerUser(app);
    expect((await sdk.getUser({ client: app.client, auth: tokens.access_token, path: { user_id: user.id } })).response?.status).to.equal(200);
  });

  it('by default gives the actor type admin, whose 2FA requirement makes the login ask for enrolment', async () => {
    const email = uniqueEmail('root');
    const id = await createAdmin(app.db, app.clock, hasher(), { email, password: adminPassword });
    expect(await actorTypesOf(id)).to.deep.equal(['admin']);
    expect(await rolesOf(id)).to.deep.equal(['admin']);
    const { data, response } = await sdk.login({ client: app.client, body: { email, password: adminPassword } });
    expect(response?.status).to.equal(200);
    expect(data).to.include({ mfa_required: true, mfa_setup_required: true });
    expect(data).to.not.have.property('access_token');
  });

  it('adds the actor type and the role to an existing account and keeps its password', async () => {
    const { body, user, verificationToken } = await registerUser(app);
    await sdk.verifyEmail({ client: app.client, body: { token: verificationToken } });
    const id = await createAdmin(app.db, app.clock, hasher(), { email: body.email.toUpperCase(), password: adminPassword, actorType: 'agent' });
    expect(id).to.equal(user.id);
    expect(await actorTypesOf(id)).to.deep.equal(['agent', 'citizen']);
    expect(await rolesOf(id)).to.deep.equal(['admin', 'free']);
    expectProblem(await sdk.login({ client: app.client, body: { email: body.email, password: adminPassword } }), 401, 'invalid_credentials');
    const tokens = tokensOf((await sdk.login({ client: app.client, body: { email: body.email, password: body.password, actor_type: 'agent' } })).data);
    expect(decodeJwt(tokens.access_token).roles).to.deep.equal(['admin', 'free']);
  });

  it('refuses a weak password, a bad email and an unknown actor type, and creates nothing', async () => {
    const email = uniqueEmail('weak');
    const refusal = async (input: Parameters<typeof createAdmin>[3]) => {
      const err = await createAdmin(app.db, app.clock, hasher(), input).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(AppError);
      return (err as AppError).code;
    };
    expect(await refusal({ email, password: 'password1' })).to.equal('password_too_weak');
    expect(await refusal({ email: 'not-an-email', password: adminPassword })).to.equal('validation_failed');
    expect(await refusal({ email, password: adminPassword, actorType: 'no_such_type' })).to.equal('actor_type_not_allowed');
    expect(await app.db('users').where({ email }).first()).to.equal(undefined);
  });

  describe('the command', () => {
    const env = (extra: Record<string, string>) => ({
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: testDatabaseUrl,
      KEY_ENCRYPTION_KEY: 'test-only-key-encryption-secret-0123456789',
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_TIME_COST: '1',
      ...extra,
    });
    const command = (args: string[], extra: Record<string, string>) =>
      run(process.execPath, ['--import', 'tsx', 'scripts/create-admin.ts', ...args], { env: env(extra), timeout: 30_000 }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );

    it('reads the password from SESAME_ADMIN_PASSWORD and prints only the new id', async () => {
      const email = uniqueEmail('cli');
      const out = await command(['--email', email, '--actor-type', 'agent', '--first-name', 'Grace'], { SESAME_ADMIN_PASSWORD: adminPassword });
      expect(out.code, out.stderr).to.equal(0);
      const row = await app.db('users').where({ email }).first();
      expect(out.stdout.trim()).to.equal(row.id);
      expect(out.stdout + out.stderr).to.not.include(adminPassword);
      expect(row).to.include({ status: 'active', first_name: 'Grace' });
      expect(await rolesOf(row.id)).to.deep.equal(['admin']);
      expect(tokensOf((await sdk.login({ client: app.client, body: { email, password: adminPassword } })).data).user.id).to.equal(row.id);
    });

    it('reads its settings and SESAME_ADMIN_* from --env-file, the environment winning; refuses a missing file, naming it', async () => {
      const email = uniqueEmail('cli-file');
      const dir = mkdtempSync(path.join(tmpdir(), 'sesame-env-file-'));
      const file = path.join(dir, 'admin.env');
      // The file's DATABASE_URL points nowhere: the one in the environment must win.
      writeFileSync(file, `# settings\nDATABASE_URL=postgres://nobody@127.0.0.1:1/none\nSESAME_ADMIN_EMAIL=${email}\nSESAME_ADMIN_PASSWORD=${adminPassword}\n`);
      try {
        const out = await command(['--env-file', file, '--actor-type', 'agent'], {});
        expect(out.code, out.stderr).to.equal(0);
        const row = await app.db('users').where({ email }).first();
        expect(out.stdout.trim()).to.equal(row.id);
        expect(await rolesOf(row.id)).to.deep.equal(['admin']);
        const missingEmail = uniqueEmail('cli-none');
        const missing = await command(['--env-file', path.join(dir, 'none.env')], { SESAME_ADMIN_EMAIL: missingEmail, SESAME_ADMIN_PASSWORD: adminPassword });
        // Node 20 itself reads an --env-file anywhere on its command line (and exits 9 without
        // the file); later versions leave it to the command, which exits 2. Both name the file.
        expect(missing.code).to.be.oneOf([2, 9]);
        expect(missing.stderr).to.include(path.join(dir, 'none.env'));
        expect(await app.db('users').where({ email: missingEmail }).first()).to.equal(undefined);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('exits 1 with the policy message for a weak password, and 2 without a password', async () => {
      const email = uniqueEmail('cli-weak');
      const weak = await command([], { SESAME_ADMIN_EMAIL: email, SESAME_ADMIN_PASSWORD: 'password1' });
      expect(weak.code).to.equal(1);
      expect(weak.stderr).to.include('password policy');
      expect(weak.stdout + weak.stderr).to.not.include('password1');
      const missing = await command(['--email', email], { SESAME_ADMIN_PASSWORD: '' });
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.include('usage');
      expect(await app.db('users').where({ email }).first()).to.equal(undefined);
    });
  });
});
