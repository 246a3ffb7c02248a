import type { Knex } from 'knex';

/**
 * The sign-in pipeline: a login paused for a second factor remembers how its first factor was
 * proven (method and amr), so the session it opens records that method, whatever it was; sign-in
 * methods such as `oidc:<id>` need more room than 32 characters.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mfa_challenges', (t) => {
    t.string('auth_method', 64).notNullable().defaultTo('password');
    t.specificType('amr', 'text[]').notNullable().defaultTo('{pwd}');
    t.string('device_id', 128).nullable();
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.string('auth_method', 64).notNullable().alter();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.string('auth_method', 32).notNullable().alter();
  });
  await knex.schema.alterTable('mfa_challenges', (t) => {
    t.dropColumn('device_id');
    t.dropColumn('amr');
    t.dropColumn('auth_method');
  });
}
