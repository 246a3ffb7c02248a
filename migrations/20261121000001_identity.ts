import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('actor_types', (t) => {
    t.string('name', 64).primary();
    t.string('description', 500).notNullable().defaultTo('');
    t.specificType('allowed_methods', 'text[]').notNullable().defaultTo('{password}');
    t.boolean('self_signup').notNullable().defaultTo(false);
    t.boolean('require_2fa').notNullable().defaultTo(false);
    t.integer('access_token_ttl').notNullable().defaultTo(1800);
    t.integer('session_duration').notNullable().defaultTo(604800);
    t.boolean('allow_impersonation').notNullable().defaultTo(false);
    t.integer('priority').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`alter table actor_types add constraint actor_types_ttl_positive check (access_token_ttl > 0 and session_duration > 0)`);

  await knex.schema.createTable('users', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('email', 254).nullable();
    t.string('phone', 16).nullable();
    t.text('password_hash').nullable();
    t.string('first_name', 100).nullable();
    t.string('last_name', 100).nullable();
    t.string('display_name', 200).nullable();
    t.string('language', 5).notNullable().defaultTo('en');
    t.text('avatar_url').nullable();
    t.string('status', 32).notNullable().defaultTo('pending_verification');
    t.timestamp('email_verified_at', { useTz: true }).nullable();
    t.boolean('is_guest').notNullable().defaultTo(false);
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('terms_accepted_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('deleted_at', { useTz: true }).nullable();
  });
  await knex.raw(`alter table users add constraint users_status_check check (status in ('pending_verification', 'active', 'suspended'))`);
  // Emails are stored lower-cased; one live account per email.
  await knex.raw(`create unique index users_email_unique on users (email) where deleted_at is null and email is not null`);

  await knex.schema.createTable('user_actor_types', (t) => {
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.string('actor_type', 64).notNullable().references('actor_types.name').onUpdate('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['user_id', 'actor_type']);
  });

  await knex.schema.createTable('email_verification_tokens', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.string('token_hash', 64).notNullable().unique();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('email_verification_tokens');
  await knex.schema.dropTable('user_actor_types');
  await knex.schema.dropTable('users');
  await knex.schema.dropTable('actor_types');
}
