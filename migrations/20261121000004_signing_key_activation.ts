import type { Knex } from 'knex';

/** Two-phase key rotation: a rotated-in key is published first and signs from `activates_at`. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('signing_keys', (t) => {
    t.timestamp('activates_at', { useTz: true }).nullable();
  });
  await knex('signing_keys').update({ activates_at: knex.ref('created_at') });
  await knex.schema.alterTable('signing_keys', (t) => {
    t.timestamp('activates_at', { useTz: true }).notNullable().alter();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('signing_keys', (t) => {
    t.dropColumn('activates_at');
  });
}
