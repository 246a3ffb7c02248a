import type { Knex } from 'knex';

/**
 * The administrators' organization search (README "Administration"): indexes in the order its
 * keyset pages read (newest first), and for the name and slug prefixes. Built CONCURRENTLY (no
 * transaction), as the other admin indexes, so a large table keeps taking writes meanwhile.
 */
export const config = { transaction: false };

const indexes: Array<[name: string, definition: string]> = [
  ['organizations_created', 'organizations (created_at desc, id desc)'],
  ['organizations_name_prefix', 'organizations (lower(name) text_pattern_ops)'],
  ['organizations_slug_prefix', 'organizations (slug text_pattern_ops)'],
];

export async function up(knex: Knex): Promise<void> {
  for (const [name, definition] of indexes) await knex.raw(`create index concurrently if not exists ${name} on ${definition}`);
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of [...indexes].reverse()) await knex.raw(`drop index concurrently if exists ${name}`);
}
