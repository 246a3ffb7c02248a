import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // ES256 signing keys; the private key is encrypted (AES-256-GCM) with KEY_ENCRYPTION_KEY.
  await knex.schema.createTable('signing_keys', (t) => {
    t.string('kid', 64).primary();
    t.string('alg', 16).notNullable();
    t.jsonb('public_jwk').notNullable();
    t.text('private_key_encrypted').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('retired_at', { useTz: true }).nullable();
    // After this instant no token it signed can still be valid: it leaves the JWKS.
    t.timestamp('publish_until', { useTz: true }).nullable();
  });

  // Transactional outbox: messages are written with the change that causes them.
  await knex.schema.createTable('outbox_messages', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.specificType('seq', 'bigserial').notNullable(); // insertion order, even within one instant
    t.string('channel', 16).notNullable();
    t.string('recipient', 320).notNullable();
    t.string('template', 64).notNullable();
    t.string('language', 5).notNullable();
    t.text('subject').nullable();
    t.text('body').notNullable();
    t.jsonb('data').notNullable().defaultTo('{}');
    t.string('status', 16).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable();
    t.text('last_error').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('sent_at', { useTz: true }).nullable();
    t.index(['recipient', 'created_at']);
  });
  await knex.raw(`create index outbox_messages_due on outbox_messages (next_attempt_at) where status = 'pending'`);

  // Fallback fast-path store when no Redis is configured. Unlogged: losing it loses no truth.
  await knex.raw(`create unlogged table fast_store (key text primary key, value text not null, expires_at timestamptz not null)`);
  await knex.raw(`create index fast_store_expires_at on fast_store (expires_at)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('fast_store');
  await knex.schema.dropTable('outbox_messages');
  await knex.schema.dropTable('signing_keys');
}
