import type { Knex } from 'knex';

/**
 * Trusted devices (README "Abuse protection"): a device that completed a password sign-in holds
 * a token (stored as its SHA-256 only) that lets it reach the password check while the account is
 * locked for everyone else.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('trusted_devices', (t) => {
    t.string('token_hash', 64).primary();
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('trusted_devices');
}
