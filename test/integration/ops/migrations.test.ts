import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createDb, migrationSource, type Db } from '../../../src/infra/db.js';
import { actorTypeCatalogue, seed } from '../../../seeds/001_actor_types.js';
import { urlFor, withAdmin } from '../../helpers/env.js';

const expectedTables = [
  'actor_types',
  'email_verification_tokens',
  'fast_store',
  'outbox_messages',
  'refresh_tokens',
  'sessions',
  'signing_keys',
  'user_actor_types',
  'users',
];

/** The application's tables in the public schema (knex's own bookkeeping excluded). */
async function userTables(db: Db): Promise<string[]> {
  const rows: Array<{ table_name: string }> = await db('information_schema.tables')
    .where({ table_schema: 'public', table_type: 'BASE TABLE' })
    .andWhereNot('table_name', 'like', 'knex\\_%')
    .select('table_name');
  return rows.map((r) => r.table_name).sort();
}

/** Every migration's name, in order, as the migration source lists them. */
async function allMigrations(): Promise<string[]> {
  return (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m));
}

describe('migrations and seeds on a fresh database', () => {
  const database = `sesame_migr_${randomBytes(6).toString('hex')}`;
  let db: Db;
  let tablesAfterFirstMigration: string[];

  before(async () => {
    await withAdmin((admin) => admin.raw(`create database "${database}"`));
    db = createDb(urlFor(database), 2);
  });

  after(async () => {
    await db?.destroy();
    await withAdmin((admin) => admin.raw(`drop database if exists "${database}" with (force)`));
  });

  // Mocha runs a suite's own tests before its child suites: every step lives in a child suite, in order.
  describe('forward', () => {
    it('starts with no application tables', async () => {
      expect(await userTables(db)).to.deep.equal([]);
    });

    it('migrate.latest creates every table', async () => {
      const names = await allMigrations();
      expect(names.slice(0, 3)).to.deep.equal(['20261121000001_identity', '20261121000002_sessions', '20261121000003_platform']);
      const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
      expect(applied).to.deep.equal(names);
      tablesAfterFirstMigration = await userTables(db);
      expect(tablesAfterFirstMigration).to.include.members(expectedTables);
    });

    it('migrate.latest again applies nothing', async () => {
      const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
      expect(applied).to.deep.equal([]);
      expect(await db.migrate.currentVersion({ migrationSource })).to.equal((await allMigrations()).at(-1)!.split('_')[0]);
    });

    it('fast_store is an unlogged table', async () => {
      const row = await db('pg_class').where({ relname: 'fast_store', relkind: 'r' }).first('relpersistence');
      expect(row?.relpersistence).to.equal('u');
    });

    it('one live account per email, but a soft-deleted one frees the address', async () => {
      const email = `migr.${randomBytes(4).toString('hex')}@example.com`;
      const [first] = await db('users').insert({ email }).returning(['id', 'status', 'language']);
      expect(first.id).to.match(/^[0-9a-f-]{36}$/);
      expect(first).to.include({ status: 'pending_verification', language: 'en' });
      let duplicate: unknown;
      await db('users')
        .insert({ email })
        .catch((e: unknown) => (duplicate = e));
      expect((duplicate as { code?: string })?.code).to.equal('23505');
      await db('users').where({ id: first.id }).update({ deleted_at: db.fn.now() });
      await db('users').insert({ email });
      expect(await db('users').where({ email }).count<Array<{ count: string }>>('* as count')).to.deep.equal([{ count: '2' }]);
    });

    it('refuses an unknown user status', async () => {
      let error: unknown;
      await db('users')
        .insert({ email: `migr.${randomBytes(4).toString('hex')}@example.com`, status: 'deleted' })
        .catch((e: unknown) => (error = e));
      expect((error as { code?: string })?.code).to.equal('23514');
    });
  });

  describe('seeds/001_actor_types', () => {
    it('inserts citizen, business, customer, merchant, agent, admin and guest', async () => {
      await seed(db);
      const rows = await db('actor_types').orderBy('name').select('name', 'self_signup', 'require_2fa', 'allowed_methods');
      expect(rows.map((r) => r.name)).to.deep.equal(['admin', 'agent', 'business', 'citizen', 'customer', 'guest', 'merchant']);
      const byName = new Map(rows.map((r) => [r.name as string, r]));
      expect(byName.get('admin')).to.include({ self_signup: false, require_2fa: true });
      expect(byName.get('agent')).to.include({ self_signup: false });
      for (const name of ['citizen', 'business', 'customer', 'merchant']) expect(byName.get(name), name).to.include({ self_signup: true, require_2fa: false });
      const methods = (r: { name: string; self_signup: boolean }) => (r.name === 'guest' ? ['guest'] : r.self_signup ? ['password', 'sms', 'qr'] : ['password']);
      for (const r of rows) expect(r.allowed_methods, r.name).to.deep.equal(methods(r));
      expect(byName.get('guest')).to.include({ self_signup: true, require_2fa: false });
    });

    it('seeding twice is idempotent and keeps an edited row', async () => {
      await db('actor_types').where({ name: 'citizen' }).update({ description: 'Edited by an administrator', access_token_ttl: 900 });
      await seed(db);
      await seed(db);
      expect(await db('actor_types').count<Array<{ count: string }>>('* as count')).to.deep.equal([{ count: String(actorTypeCatalogue.length) }]);
      const citizen = await db('actor_types').where({ name: 'citizen' }).first();
      expect(citizen).to.include({ description: 'Edited by an administrator', access_token_ttl: 900 });
    });

    it('after a deleted row, seeding restores it', async () => {
      await db('actor_types').where({ name: 'merchant' }).delete();
      await seed(db);
      expect(await db('actor_types').where({ name: 'merchant' }).first('self_signup')).to.deep.equal({ self_signup: true });
    });
  });

  describe('rollback and forward again', () => {
    it('rollback of every batch drops every application table', async () => {
      await db.migrate.rollback({ migrationSource }, true);
      expect(await userTables(db)).to.deep.equal([]);
      expect(await db.migrate.currentVersion({ migrationSource })).to.equal('none');
    });

    it('migrating forward again after the rollback works', async () => {
      const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
      expect(applied).to.deep.equal(await allMigrations());
      expect(await userTables(db)).to.deep.equal(tablesAfterFirstMigration);
      await seed(db);
      expect(await db('actor_types').where({ name: 'admin' }).first('require_2fa')).to.deep.equal({ require_2fa: true });
    });
  });
});
