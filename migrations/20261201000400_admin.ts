import type { Knex } from 'knex';

/**
 * Administration (README "Administration"):
 * - a session an administrator opens as a user records the RFC 8693 actor chain (`act`), the
 *   administrator (`impersonator_id`) and the administrator's session, so that ending it ends
 *   the impersonation too;
 * - indexes for the admin queries, each in the order the keyset pages read (newest first):
 *   the audit log by time, actor, event and session (the user index exists), users by creation
 *   and by email and phone prefix.
 * The indexes are built CONCURRENTLY (no transaction): audit_logs takes a row on every sign-in,
 * and a plain CREATE INDEX would hold its writes for the whole build on a large table.
 */
export const config = { transaction: false };

const indexes: Array<[name: string, definition: string]> = [
  ['audit_logs_created', 'audit_logs (created_at desc, id desc)'],
  ['audit_logs_actor_created', 'audit_logs (actor_id, created_at desc, id desc) where actor_id is not null'],
  ['audit_logs_event_created_id', 'audit_logs (event, created_at desc, id desc)'],
  ['audit_logs_session_created', 'audit_logs (session_id, created_at desc, id desc) where session_id is not null'],
  ['users_live_created', 'users (created_at desc, id desc) where deleted_at is null'],
  ['users_live_email_prefix', 'users (email text_pattern_ops) where deleted_at is null'],
  ['users_live_phone_prefix', 'users (phone text_pattern_ops) where deleted_at is null'],
  ['sessions_impersonator_session', 'sessions (impersonator_session_id) where impersonator_session_id is not null'],
];

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table sessions
    add column if not exists act jsonb,
    add column if not exists impersonator_id uuid,
    add column if not exists impersonator_session_id uuid`);
  for (const [name, definition] of indexes) await knex.raw(`create index concurrently if not exists ${name} on ${definition}`);
  // Superseded by audit_logs_event_created_id (the keyset needs id too).
  await knex.raw('drop index concurrently if exists audit_logs_event_created');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('create index concurrently if not exists audit_logs_event_created on audit_logs (event, created_at desc)');
  for (const [name] of [...indexes].reverse()) await knex.raw(`drop index concurrently if exists ${name}`);
  await knex.raw('alter table sessions drop column if exists impersonator_session_id, drop column if exists impersonator_id, drop column if exists act');
}
