import { randomBytes, randomUUID } from 'node:crypto';
import { hash as argon2, Algorithm } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, registerUser, tokensOf, uniqueEmail } from '../../helpers/flows.js';
import { adminUser, userWithPermissions } from '../../helpers/rbac.js';

/** OpenBSD's and jBCrypt's published test vector (cost 6). */
const publishedVector = { password: '~!@#$%^&*()      ~!@#$%^&*()PNBFRD', hash: '$2a$06$fPIsBO8qRqkjj273rfaOI.HtSV9jLDpTbZn782DC6/t7qT67P6FfO' };

describe('admin: user import', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const importUsers = (token: string, users: sdk.UserImportRow[]) => sdk.importUsers({ client: app.client, auth: token, body: { users } });
  const login = (email: string, password: string) => sdk.login({ client: app.client, body: { email, password } });
  const storedHash = async (email: string): Promise<string> => (await app.db('users').where({ email }).first('password_hash')).password_hash;

  it('imports bcrypt ($2a$, $2b$, $2y$) and argon2 hashes: the old password signs in once, and the hash becomes argon2id', async () => {
    const admin = await adminUser(app);
    const password = `Old-${randomBytes(6).toString('hex')}!`;
    const b = bcrypt.hashSync(password, 4);
    expect(b.startsWith('$2b$04$')).to.equal(true);
    const hashes: Record<string, string> = {
      '2a': b.replace('$2b$', '$2a$'),
      '2b': bcrypt.hashSync(password, 5),
      '2y': b.replace('$2b$', '$2y$'),
      argon2i: await argon2(password, { algorithm: Algorithm.Argon2i, memoryCost: 1024, timeCost: 1 }),
      // Weaker than the service's own parameters (1024 KiB, t=1 in tests).
      argon2id: await argon2(password, { algorithm: Algorithm.Argon2id, memoryCost: 512, timeCost: 1 }),
    };
    const rows = Object.entries(hashes).map(([kind, password_hash]) => ({ email: uniqueEmail(`imp-${kind}`), password_hash, email_verified: true, first_name: 'Imported', last_name: kind }));
    rows.push({ email: uniqueEmail('imp-vector'), password_hash: publishedVector.hash, email_verified: true, first_name: 'Vector', last_name: 'User' });
    const { data, error } = await importUsers(admin.session.access_token, rows);
    expect(error, JSON.stringify(error)).to.equal(undefined);
    expect(data).to.deep.include({ created: rows.length, skipped: 0, refused: 0 });

    for (const [i, row] of rows.entries()) {
      const secret = i === rows.length - 1 ? publishedVector.password : password;
      expect(await storedHash(row.email)).to.equal(row.password_hash);
      expect((await login(row.email, 'Wrong-Password-1!')).response?.status, row.email).to.equal(401);
      const session = tokensOf((await login(row.email, secret)).data);
      expect(session.user).to.deep.include({ id: data!.results[i]!.user_id, status: 'active', email_verified: true });
      const upgraded = await storedHash(row.email);
      expect(upgraded, row.last_name).to.match(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
      tokensOf((await login(row.email, secret)).data);
    }
  });

  it('refuses malformed hashes per row, at import, and creates the other rows of the call', async () => {
    const admin = await adminUser(app);
    const good = bcrypt.hashSync('Pass-Word-2026!', 4);
    const malformed = [
      good.replace('$2b$04$', '$2b$03$'), // cost below 4
      good.replace('$2b$04$', '$2b$15$'), // cost above 14
      good.replace('$2b$', '$2x$'), // unknown variant
      good.slice(0, -1), // truncated
      `${good.slice(0, 28)}z${good.slice(29)}`, // salt with bits bcrypt never sets
      `${good.slice(0, -1)}z`, // digest with bits bcrypt never sets
      'plain-text-password',
      '$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g', // 4 GiB
      '$argon2id$v=19$m=19456,t=2,p=1$c29t$aGFzaGhhc2hoYXNoaGFzaGhhc2g', // 3-byte salt
      '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$aGFzaA', // 4-byte digest
      '$argon2id$v=42$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g', // unknown version
      '$scrypt$ln=16,r=8,p=1$c29tZXNhbHQ$aGFzaA',
    ];
    const rows: sdk.UserImportRow[] = [{ email: uniqueEmail('imp-ok'), password_hash: good, email_verified: true }, ...malformed.map((password_hash) => ({ email: uniqueEmail('imp-bad'), password_hash }))];
    rows.push({ email: uniqueEmail('imp-nopw'), password_hash: null });
    const { data } = await importUsers(admin.session.access_token, rows);
    expect(data!.results.map((r) => [r.outcome, r.reason])).to.deep.equal([['created', null], ...malformed.map(() => ['refused', 'invalid_password_hash']), ['created', null]]);
    expect(await app.db('users').whereIn('email', rows.slice(1, -1).map((r) => r.email)).count<{ count: string }[]>('* as count').first()).to.deep.equal({ count: '0' });
    tokensOf((await login(rows[0]!.email, 'Pass-Word-2026!')).data);
    // No password: pending, and no password sign-in until one is set through the reset flow.
    const nopw = rows[rows.length - 1]!.email;
    expect(await app.db('users').where({ email: nopw }).first('status', 'password_hash')).to.deep.equal({ status: 'pending_verification', password_hash: null });
  });

  it('keeps given ids, skips existing accounts, refuses taken ids, duplicates and unknown actor types, with a report per row', async () => {
    const admin = await adminUser(app);
    const existing = await registerUser(app);
    const another = await registerUser(app);
    const deleted = await loggedInUser(app);
    await app.db('users').where({ id: deleted.user.id }).update({ deleted_at: app.clock.now() });
    const keptId = randomUUID();
    const repeated = uniqueEmail('imp-dup');
    const rows: sdk.UserImportRow[] = [
      { id: keptId.toUpperCase(), email: uniqueEmail('imp-id'), first_name: 'Kept', actor_types: ['business', 'merchant'], language: 'es', phone: '+240222123456' },
      { email: existing.body.email.toUpperCase() },
      { id: another.user.id, email: another.body.email },
      { id: deleted.user.id, email: uniqueEmail('imp-taken') },
      { email: repeated },
      { email: repeated },
      { email: uniqueEmail('imp-type'), actor_types: ['no-such-type'] },
    ];
    const { data, error } = await importUsers(admin.session.access_token, rows);
    expect(error, JSON.stringify(error)).to.equal(undefined);
    expect(data!.results.map((r) => [r.index, r.outcome, r.reason])).to.deep.equal([
      [0, 'created', null],
      [1, 'skipped', 'email_exists'],
      [2, 'skipped', 'id_exists'],
      [3, 'refused', 'id_taken'],
      [4, 'created', null],
      [5, 'refused', 'duplicate_in_request'],
      [6, 'refused', 'unknown_actor_type'],
    ]);
    expect(data).to.deep.include({ created: 2, skipped: 2, refused: 3 });
    expect(data!.results[0]!.user_id).to.equal(keptId);
    expect(data!.results[1]!.user_id).to.equal(existing.user.id);
    const detail = (await sdk.getAdminUser({ client: app.client, auth: admin.session.access_token, path: { user_id: keptId } })).data!;
    expect(detail).to.deep.include({ first_name: 'Kept', language: 'es', phone: '+240222123456', status: 'pending_verification', roles: ['free'] });
    expect(detail.actor_types).to.have.members(['business', 'merchant']);
  });

  it('writes exactly one audit row per call, naming the administrator and the accounts created', async () => {
    const admin = await adminUser(app);
    const rows = [{ email: uniqueEmail('imp-audit') }, { email: uniqueEmail('imp-audit') }];
    const { data } = await importUsers(admin.session.access_token, rows);
    const audit = await app.db('audit_logs').where({ actor_id: admin.user.id });
    expect(audit).to.have.length(1);
    expect(audit[0]).to.deep.include({ event: 'users.imported', user_id: null });
    expect(audit[0].details).to.deep.equal({ rows: 2, created: 2, skipped: 0, refused: 0, created_ids: data!.results.map((r) => r.user_id) });
    expect(await app.db('audit_logs').whereIn('user_id', data!.results.map((r) => r.user_id!))).to.deep.equal([]);
  });

  it('needs sesame:import:users: 403 permission_denied, nothing created', async () => {
    const reader = await userWithPermissions(app, ['sesame:read:users']);
    const email = uniqueEmail('imp-denied');
    expectProblem(await importUsers(reader.session.access_token, [{ email }]), 403, 'permission_denied');
    expect(await app.db('users').where({ email }).first()).to.equal(undefined);
  });

  it('takes 1,000 realistic rows in one call (a body over the 100 kB BODY_LIMIT), and refuses 1,001 rows', async function () {
    // About nine statements a row: seconds on a busy machine, so the default timeout is no measure here.
    this.timeout(120_000);
    const admin = await adminUser(app);
    const tag = randomBytes(4).toString('hex');
    const hashes = Array.from({ length: 10 }, (_, i) => bcrypt.hashSync(`Password-${i}!`, 4));
    const rows: sdk.UserImportRow[] = Array.from({ length: 1000 }, (_, i) => ({
      id: randomUUID(),
      email: `firstname.lastname.${tag}.${i}@example-company.com`,
      first_name: 'Jean-Baptiste',
      last_name: 'Dupont-Martinez',
      display_name: `Jean-Baptiste Dupont-Martinez ${i}`,
      phone: `+24022${String(1000000 + i)}`,
      language: 'fr',
      email_verified: true,
      actor_types: ['citizen'],
      password_hash: hashes[i % hashes.length]!,
    }));
    const size = Buffer.byteLength(JSON.stringify({ users: rows }));
    expect(size).to.be.within(100 * 1024, 1024 * 1024);
    const { data, error } = await importUsers(admin.session.access_token, rows);
    expect(error, JSON.stringify(error)).to.equal(undefined);
    expect(data).to.deep.include({ created: 1000, skipped: 0, refused: 0 });
    expect(data!.results.map((r) => r.user_id)).to.deep.equal(rows.map((r) => r.id));
    tokensOf((await login(rows[999]!.email, 'Password-9!')).data);

    expectProblem(await importUsers(admin.session.access_token, [...rows, { email: uniqueEmail('imp-1001') }]), 400, 'validation_failed');
  });

  it('answers 413 payload_too_large over IMPORT_BODY_LIMIT, and BODY_LIMIT still holds elsewhere', async () => {
    const admin = await adminUser(app);
    // Over 1 MB: refused while reading, before any row is looked at.
    const rows = Array.from({ length: 1000 }, (_, i) => ({ email: `a${i}@example.com`, display_name: 'x'.repeat(1100) }));
    expectProblem(await importUsers(admin.session.access_token, rows), 413, 'payload_too_large');
    const big = await sdk.updateProfile({ client: app.client, auth: admin.session.access_token, body: { display_name: 'y'.repeat(150 * 1024) } });
    expectProblem(big, 413, 'payload_too_large');
  });
});
