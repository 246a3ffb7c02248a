import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sessions', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.string('actor_type', 64).notNullable().references('actor_types.name').onUpdate('CASCADE');
    t.string('auth_method', 32).notNullable();
    t.specificType('amr', 'text[]').notNullable().defaultTo('{}');
    t.string('device_name', 100).nullable();
    t.string('device_type', 16).nullable();
    t.string('ip', 64).nullable();
    t.string('user_agent', 512).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('last_active_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.string('revoked_reason', 64).nullable();
    t.index(['user_id']);
  });

  // One row per refresh token of a session's family; only hashes are stored.
  await knex.schema.createTable('refresh_tokens', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('session_id').notNullable().references('sessions.id').onDelete('CASCADE');
    t.string('token_hash', 64).notNullable().unique();
    t.integer('generation').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('rotated_at', { useTz: true }).nullable();
    t.unique(['session_id', 'generation']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('refresh_tokens');
  await knex.schema.dropTable('sessions');
}
