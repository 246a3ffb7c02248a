import type { Knex } from 'knex';

/**
 * Organizations, their members and invitations, API keys, and the session's active organization.
 *
 * An organization always keeps an owner, and PostgreSQL enforces it: demoting or removing an
 * owner locks the organization's row (FOR NO KEY UPDATE: only owner changes wait for each
 * other), then counts its owners with a fresh snapshot (READ COMMITTED gives each statement of
 * the function one), so two owners demoting each other in parallel serialise on that lock and
 * the second one fails. A new organization must have an owner when its transaction commits (a
 * deferred constraint trigger).
 *
 * A session's active organization is a membership row: removing the member nulls it (ON DELETE
 * SET NULL), and a member who rejoins gets a new row, so the session never finds the old
 * organization again. An organization key keeps its creator's membership the same way.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('organizations', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('name', 200).notNullable();
    t.string('slug', 64).notNullable();
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.uuid('created_by').nullable().references('users.id').onDelete('SET NULL');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('deleted_at', { useTz: true }).nullable();
  });
  await knex.raw(`create unique index organizations_slug_unique on organizations (slug) where deleted_at is null`);

  await knex.schema.createTable('organization_members', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('organization_id').notNullable().references('organizations.id').onDelete('CASCADE');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.string('role', 16).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.unique(['organization_id', 'user_id']);
    t.index(['user_id']);
  });
  await knex.raw(`alter table organization_members add constraint organization_members_role_check check (role in ('owner', 'admin', 'member', 'viewer'))`);

  await knex.raw(`
    create function organization_keeps_an_owner() returns trigger language plpgsql as $$
    begin
      if old.role <> 'owner' or (tg_op = 'UPDATE' and new.role = 'owner') then
        return null;
      end if;
      perform 1 from organizations where id = old.organization_id and deleted_at is null for no key update;
      if not found then
        return null; -- a deleted organization (or one being deleted) needs no owner
      end if;
      if not exists (select 1 from organization_members where organization_id = old.organization_id and role = 'owner') then
        raise exception 'organization % would be left without an owner', old.organization_id
          using errcode = 'check_violation', constraint = 'organization_members_keep_an_owner';
      end if;
      return null;
    end $$`);
  await knex.raw(`
    create trigger organization_members_keep_an_owner
      after update of role or delete on organization_members
      for each row execute function organization_keeps_an_owner()`);
  await knex.raw(`
    create function organization_created_with_an_owner() returns trigger language plpgsql as $$
    begin
      if exists (select 1 from organizations where id = new.id and deleted_at is null)
         and not exists (select 1 from organization_members where organization_id = new.id and role = 'owner') then
        raise exception 'organization % has no owner', new.id
          using errcode = 'check_violation', constraint = 'organization_members_keep_an_owner';
      end if;
      return null;
    end $$`);
  await knex.raw(`
    create constraint trigger organizations_created_with_an_owner
      after insert on organizations deferrable initially deferred
      for each row execute function organization_created_with_an_owner()`);

  await knex.schema.createTable('organization_invitations', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('organization_id').notNullable().references('organizations.id').onDelete('CASCADE');
    t.string('email', 254).notNullable();
    t.string('role', 16).notNullable();
    t.string('token_hash', 64).notNullable().unique();
    t.uuid('invited_by').nullable().references('users.id').onDelete('SET NULL');
    t.string('status', 16).notNullable().defaultTo('pending');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('responded_at', { useTz: true }).nullable();
    t.uuid('accepted_by').nullable().references('users.id').onDelete('SET NULL');
    t.index(['organization_id']);
  });
  await knex.raw(`alter table organization_invitations add constraint organization_invitations_role_check check (role in ('owner', 'admin', 'member', 'viewer'))`);
  await knex.raw(
    `alter table organization_invitations add constraint organization_invitations_status_check check (status in ('pending', 'accepted', 'declined', 'revoked', 'expired'))`,
  );
  // At most one pending invitation per email and organization.
  await knex.raw(`create unique index organization_invitations_one_pending on organization_invitations (organization_id, email) where status = 'pending'`);

  await knex.schema.alterTable('sessions', (t) => {
    t.uuid('org_membership_id').nullable().references('organization_members.id').onDelete('SET NULL');
    t.index(['org_membership_id']);
  });

  await knex.schema.createTable('api_keys', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.uuid('organization_id').nullable().references('organizations.id').onDelete('CASCADE');
    t.uuid('org_membership_id').nullable().references('organization_members.id').onDelete('SET NULL');
    t.string('name', 100).notNullable();
    t.string('prefix', 16).notNullable();
    t.string('last_four', 4).notNullable();
    t.string('secret_hash', 64).notNullable().unique();
    t.string('previous_secret_hash', 64).nullable().unique();
    t.timestamp('previous_expires_at', { useTz: true }).nullable();
    t.specificType('permissions', 'text[]').notNullable().defaultTo('{}');
    t.timestamp('expires_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('rotated_at', { useTz: true }).nullable();
    t.timestamp('last_used_at', { useTz: true }).nullable();
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.index(['user_id']);
    t.index(['org_membership_id']);
  });
  // An organization key names the membership it was created under (nulled when the member leaves).
  await knex.raw(`alter table api_keys add constraint api_keys_org_membership check (organization_id is not null or org_membership_id is null)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_keys');
  await knex.schema.alterTable('sessions', (t) => {
    t.dropColumn('org_membership_id');
  });
  await knex.schema.dropTable('organization_invitations');
  await knex.raw('drop trigger organizations_created_with_an_owner on organizations');
  await knex.raw('drop function organization_created_with_an_owner()');
  await knex.raw('drop trigger organization_members_keep_an_owner on organization_members');
  await knex.raw('drop function organization_keeps_an_owner()');
  await knex.schema.dropTable('organization_members');
  await knex.schema.dropTable('organizations');
}
