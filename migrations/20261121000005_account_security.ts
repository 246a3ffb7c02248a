import type { Knex } from 'knex';

/**
 * Account lifecycle and two-factor authentication: profile consents, password reset tokens,
 * TOTP enrolment, backup codes and login challenges (`mfa_token`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.boolean('analytics_consent').notNullable().defaultTo(false);
    t.boolean('marketing_consent').notNullable().defaultTo(false);
    t.timestamp('password_changed_at', { useTz: true }).nullable();
    t.timestamp('mfa_enabled_at', { useTz: true }).nullable();
  });

  // Single-use, one-hour reset tokens; only hashes are stored.
  await knex.schema.createTable('password_reset_tokens', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.string('token_hash', 64).notNullable().unique();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['user_id', 'created_at']);
  });

  // One TOTP secret per user, encrypted at rest. `confirmed_at` null = enrolment pending.
  // `last_used_step` is the highest time step ever accepted: a code is never accepted twice.
  await knex.schema.createTable('user_totp', (t) => {
    t.uuid('user_id').primary().references('users.id').onDelete('CASCADE');
    t.text('secret_encrypted').notNullable();
    t.timestamp('confirmed_at', { useTz: true }).nullable();
    t.bigInteger('last_used_step').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('mfa_backup_codes', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.string('code_hash', 64).notNullable();
    t.timestamp('used_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.unique(['user_id', 'code_hash']);
  });

  // A login paused for a second factor (`login`), or for enrolment when the actor type requires
  // 2FA (`setup`). Single use, short-lived, attempts capped; the login's context is kept here.
  await knex.schema.createTable('mfa_challenges', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('token_hash', 64).notNullable().unique();
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.string('purpose', 16).notNullable();
    t.string('actor_type', 64).notNullable().references('actor_types.name').onUpdate('CASCADE');
    t.boolean('remember_me').notNullable();
    t.string('device_name', 100).nullable();
    t.string('device_type', 16).nullable();
    t.string('ip', 64).nullable();
    t.string('user_agent', 512).nullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('consumed_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['user_id']);
  });
  await knex.raw(`alter table mfa_challenges add constraint mfa_challenges_purpose_check check (purpose in ('login', 'setup'))`);
  // Resend and reset counts look up a user's recent tokens.
  await knex.schema.alterTable('email_verification_tokens', (t) => {
    t.index(['user_id', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('email_verification_tokens', (t) => {
    t.dropIndex(['user_id', 'created_at']);
  });
  await knex.schema.dropTable('mfa_challenges');
  await knex.schema.dropTable('mfa_backup_codes');
  await knex.schema.dropTable('user_totp');
  await knex.schema.dropTable('password_reset_tokens');
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('analytics_consent');
    t.dropColumn('marketing_consent');
    t.dropColumn('password_changed_at');
    t.dropColumn('mfa_enabled_at');
  });
}
