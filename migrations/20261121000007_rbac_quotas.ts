import type { Knex } from 'knex';

/**
 * Roles and quotas (README "Roles and permissions"): roles, permissions, role grants (with expiry), quota definitions per role
 * and per-user quota counters; the session's device id. Existing users get their default role
 * (`guest` for guests, `free` otherwise); the catalogue itself is seeded by seeds/002_rbac.ts.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('roles', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('name', 64).notNullable().unique();
    t.text('description').nullable();
    t.integer('priority').notNullable().defaultTo(0);
    t.boolean('is_system').notNullable().defaultTo(false);
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('permissions', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('service', 50).notNullable();
    t.string('action', 50).notNullable();
    t.string('resource', 100).notNullable();
    t.string('name', 204).notNullable().unique();
    t.text('description').nullable();
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['service', 'action', 'resource']);
  });
  await knex.raw(`alter table permissions add constraint permissions_name_parts check (name = service || ':' || action || ':' || resource)`);

  await knex.schema.createTable('role_permissions', (t) => {
    t.uuid('role_id').notNullable().references('roles.id').onDelete('CASCADE');
    t.uuid('permission_id').notNullable().references('permissions.id').onDelete('CASCADE');
    t.timestamp('granted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['role_id', 'permission_id']);
  });

  await knex.schema.createTable('user_roles', (t) => {
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.uuid('role_id').notNullable().references('roles.id').onDelete('CASCADE');
    t.timestamp('granted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).nullable();
    t.uuid('granted_by').nullable().references('users.id').onDelete('SET NULL');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.primary(['user_id', 'role_id']);
  });

  await knex.schema.createTable('quota_definitions', (t) => {
    t.uuid('role_id').notNullable().references('roles.id').onDelete('CASCADE');
    t.string('quota_type', 50).notNullable();
    t.integer('max_allowed').notNullable();
    t.string('period_type', 20).nullable();
    t.boolean('can_renew').notNullable().defaultTo(false);
    t.string('renew_action', 50).nullable();
    t.primary(['role_id', 'quota_type']);
  });
  await knex.raw(`alter table quota_definitions add constraint quota_definitions_valid check (max_allowed >= 0 and (period_type is null or period_type in ('daily', 'weekly', 'monthly')))`);

  await knex.schema.createTable('user_quotas', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.string('quota_type', 50).notNullable();
    t.integer('max_allowed').notNullable();
    t.integer('current_usage').notNullable().defaultTo(0);
    t.string('period_type', 20).nullable();
    t.timestamp('period_start', { useTz: true }).nullable();
    t.timestamp('period_end', { useTz: true }).nullable();
    t.boolean('can_renew').notNullable().defaultTo(false);
    t.string('renew_action', 50).nullable();
    t.timestamp('renewed_at', { useTz: true }).nullable();
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['user_id', 'quota_type']);
  });
  await knex.raw(`alter table user_quotas add constraint user_quotas_valid check (max_allowed >= 0 and current_usage >= 0 and (period_type is null or period_type in ('daily', 'weekly', 'monthly')))`);

  await knex.schema.alterTable('sessions', (t) => {
    t.string('device_id', 128).nullable();
  });

  // The four system roles (seeds/002_rbac.ts), so existing users can be given their default role here.
  await knex('roles')
    .insert([
      { name: 'admin', description: 'Administrateur système', priority: 100, is_system: true },
      { name: 'premium', description: 'Utilisateur premium', priority: 50, is_system: true },
      { name: 'free', description: 'Utilisateur gratuit', priority: 10, is_system: true },
      { name: 'guest', description: 'Utilisateur invité', priority: 0, is_system: true },
    ])
    .onConflict('name')
    .ignore();
  await knex.raw(`
    insert into user_roles (user_id, role_id)
    select u.id, r.id from users u join roles r on r.name = case when u.is_guest then 'guest' else 'free' end
    on conflict do nothing`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.dropColumn('device_id');
  });
  await knex.schema.dropTable('user_quotas');
  await knex.schema.dropTable('quota_definitions');
  await knex.schema.dropTable('user_roles');
  await knex.schema.dropTable('role_permissions');
  await knex.schema.dropTable('permissions');
  await knex.schema.dropTable('roles');
}
