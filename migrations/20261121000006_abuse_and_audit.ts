import type { Knex } from 'knex';

/**
 * Abuse protection and audit: login lockout counters (per identifier, so unknown accounts lock
 * the same way as known ones) and the audit log of security events.
 */
export async function up(knex: Knex): Promise<void> {
  // Login attempts since the last success, per normalized identifier (email). An attempt is
  // counted before the password is checked, so parallel attempts cannot exceed the limit.
  await knex.schema.createTable('login_lockouts', (t) => {
    t.string('identifier', 320).primary();
    t.integer('failures').notNullable().defaultTo(0);
    t.timestamp('locked_until', { useTz: true }).nullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('audit_logs', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    // No foreign key: the trail outlives what it describes.
    t.uuid('user_id').nullable();
    t.uuid('actor_id').nullable();
    t.uuid('session_id').nullable();
    t.string('event', 64).notNullable();
    t.string('identifier', 320).nullable(); // masked (j***n@example.com), never in clear
    t.string('ip', 64).nullable();
    t.string('user_agent', 512).nullable();
    t.jsonb('details').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable();
  });
  await knex.raw('create index audit_logs_user_created on audit_logs (user_id, created_at desc, id desc)');
  await knex.raw('create index audit_logs_event_created on audit_logs (event, created_at desc)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_logs');
  await knex.schema.dropTable('login_lockouts');
}
