import type { Knex } from 'knex';

/** The self-signup actor types of the default catalogue, which gain the phone and QR sign-ins. */
const selfSignupTypes = ['citizen', 'business', 'customer', 'merchant'];

/**
 * Phone sign-in, the device registry and cross-device QR login (README "Phone sign-in",
 * "Devices", "QR login"): a verified phone is an identity (one live account per number), codes
 * and QR challenges live in PostgreSQL (a Redis loss must not revive a used code), and sessions
 * and paused 2FA logins name the device they were opened from.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.timestamp('phone_verified_at', { useTz: true }).nullable();
  });
  await knex.raw(`create unique index users_verified_phone_unique on users (phone) where phone_verified_at is not null and deleted_at is null`);

  await knex.schema.createTable('devices', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.string('name', 100).notNullable();
    t.string('type', 16).notNullable();
    t.text('public_key').nullable();
    t.text('push_token').nullable();
    t.string('user_agent', 512).nullable();
    t.string('ip', 64).nullable();
    t.timestamp('verified_at', { useTz: true }).nullable();
    t.timestamp('last_active_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.string('revoked_reason', 64).nullable();
    t.index(['user_id', 'created_at']);
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.uuid('device_ref').nullable().references('devices.id').onDelete('SET NULL');
    t.index(['device_ref']);
  });
  await knex.schema.alterTable('mfa_challenges', (t) => {
    t.uuid('device_ref').nullable().references('devices.id').onDelete('SET NULL');
  });

  // A code sent by SMS: only its keyed digest is kept; attempts survive a resend.
  await knex.schema.createTable('phone_verifications', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('phone', 16).notNullable();
    t.string('country', 2).notNullable();
    t.string('purpose', 16).notNullable();
    t.string('code_digest', 64).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('sends').notNullable().defaultTo(1);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('last_sent_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('confirmed_at', { useTz: true }).nullable();
    t.timestamp('consumed_at', { useTz: true }).nullable();
    t.index(['phone', 'purpose', 'created_at']);
  });
  await knex.raw(`alter table phone_verifications add constraint phone_verifications_purpose_check check (purpose in ('registration', 'login', 'recovery'))`);

  // Codes sent per country in fixed windows: the budget that caps SMS pumping.
  await knex.schema.createTable('sms_country_budgets', (t) => {
    t.string('country', 2).notNullable();
    t.timestamp('window_start', { useTz: true }).notNullable();
    t.integer('sent').notNullable();
    t.primary(['country', 'window_start']);
  });

  await knex.schema.createTable('qr_challenges', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('challenge_hash', 64).notNullable().unique();
    t.string('poll_token_hash', 64).notNullable().unique();
    t.string('status', 16).notNullable().defaultTo('pending');
    t.string('device_name', 100).nullable();
    t.string('device_type', 16).nullable();
    t.text('public_key').nullable();
    t.text('push_token').nullable();
    t.boolean('remember_me').notNullable().defaultTo(true);
    t.string('ip', 64).nullable();
    t.string('user_agent', 512).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.uuid('inspected_by_session').nullable();
    t.uuid('approver_user_id').nullable().references('users.id').onDelete('CASCADE');
    t.uuid('approver_session_id').nullable();
    t.string('approver_actor_type', 64).nullable();
    t.timestamp('decided_at', { useTz: true }).nullable();
    t.timestamp('last_polled_at', { useTz: true }).nullable();
    t.timestamp('consumed_at', { useTz: true }).nullable();
    t.index(['expires_at']);
  });
  await knex.raw(`alter table qr_challenges add constraint qr_challenges_status_check check (status in ('pending', 'approved', 'refused', 'consumed'))`);

  // Existing installations: the seeded self-signup types allow the new sign-ins, as new ones do.
  await knex('actor_types')
    .whereIn('name', selfSignupTypes)
    .update({ allowed_methods: knex.raw(`allowed_methods || array(select m from unnest('{sms,qr}'::text[]) as m where m <> all(actor_types.allowed_methods))`) });
}

export async function down(knex: Knex): Promise<void> {
  await knex('actor_types')
    .whereIn('name', selfSignupTypes)
    .update({ allowed_methods: knex.raw(`array_remove(array_remove(allowed_methods, 'sms'), 'qr')`) });
  await knex.schema.dropTable('qr_challenges');
  await knex.schema.dropTable('sms_country_budgets');
  await knex.schema.dropTable('phone_verifications');
  await knex.schema.alterTable('mfa_challenges', (t) => {
    t.dropColumn('device_ref');
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.dropColumn('device_ref');
  });
  await knex.schema.dropTable('devices');
  await knex.raw(`drop index users_verified_phone_unique`);
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('phone_verified_at');
  });
}
