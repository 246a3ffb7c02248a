import type { Knex } from 'knex';

/**
 * External identities (README "Sign in with Google, GitHub or OpenID Connect"): an account is
 * found by the provider's (issuer, subject), never by email. The email the provider gave is kept
 * for display and for the linking rules only. Provider tokens are not stored.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('user_identities', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.string('provider', 50).notNullable();
    t.string('issuer', 2048).notNullable();
    t.string('subject', 255).notNullable();
    t.string('email', 254).nullable();
    t.boolean('email_verified').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true }).nullable();
    t.unique(['provider', 'issuer', 'subject']);
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('user_identities');
}
