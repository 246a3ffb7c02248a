/**
 * The admin audit-log query over a large log (README "Administration"): creates a scratch
 * database next to DATABASE_URL (never the one it names), migrates it, fills audit_logs with
 * ROWS rows (default 1,000,000), then runs the queries of GET /admin/audit-logs exactly as the
 * service builds them (first page and a later page, per filter) under EXPLAIN ANALYZE, prints each
 * plan and its execution time, and drops the scratch database.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx scripts/explain-audit-log.ts
 */
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { searchAuditLog, type AuditLogFilter } from '../src/identity/audit-trail.js';
import { createDb, migrateAndSeed } from '../src/infra/db.js';

const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const rows = Number(process.env.ROWS ?? 1_000_000);
const scratch = `sesame_explain_${randomBytes(4).toString('hex')}`;

function urlOf(database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withServer<T>(work: (admin: Knex) => Promise<T>): Promise<T> {
  const admin = knexFactory({ client: 'pg', connection: urlOf('postgres'), pool: { min: 0, max: 1 } });
  try {
    return await work(admin);
  } finally {
    await admin.destroy();
  }
}

/** 1M rows over a year: 20 events, 50,000 users, 1 row in 10 by one of 40 administrators, a session on most. */
async function fill(db: Knex): Promise<void> {
  await db.raw(
    `insert into audit_logs (id, user_id, actor_id, session_id, event, identifier, ip, user_agent, details, created_at)
     select gen_random_uuid(),
            ('00000000-0000-4000-8000-' || lpad(to_hex(g % 50000), 12, '0'))::uuid,
            case when g % 10 = 0 then ('00000000-0000-4000-9000-' || lpad(to_hex((g / 10) % 40), 12, '0'))::uuid end,
            case when g % 3 <> 0 then gen_random_uuid() end,
            (array['login.succeeded','login.failed','logout','session.revoked','refresh_token.reused','password.changed',
                   'password.reset_requested','password.reset','mfa.enabled','mfa.disabled','mfa.failed','profile.updated',
                   'user.updated','user.suspended','user.reactivated','role.granted','role.revoked','impersonation.started',
                   'impersonation.request','impersonation.stopped'])[1 + abs(hashint4(g)) % 20],
            'j***n@example.com', '203.0.113.7', 'Mozilla/5.0 (X11; Linux x86_64)', '{"n": 1}',
            timestamptz '2026-01-01' + (g * interval '31.536 seconds')
       from generate_series(1, ?) as g`,
    [rows],
  );
  await db.raw('vacuum analyze audit_logs');
}

async function explain(db: Knex, name: string, filter: AuditLogFilter): Promise<void> {
  for (const pageName of ['first page', 'page 20']) {
    let cursor: string | undefined;
    if (pageName === 'page 20') {
      for (let i = 0; i < 19; i++) {
        const next = (await searchAuditLog(db, filter, { limit: 50, cursor })).next_cursor;
        if (!next) {
          console.log(`\n## ${name} — fewer than 20 pages`);
          return;
        }
        cursor = next;
      }
    }
    let captured: { sql: string; bindings: readonly unknown[] } | undefined;
    const listener = (q: { sql: string; bindings: readonly unknown[] }) => (captured = q);
    db.on('query', listener);
    await searchAuditLog(db, filter, { limit: 50, cursor });
    db.off('query', listener);
    // The SQL as sent ($1, $2… placeholders), on a connection of the pool.
    const connection = await db.client.acquireConnection();
    let plan: Array<{ 'QUERY PLAN': string }>;
    try {
      const sql = (db.client as unknown as { positionBindings(sql: string): string }).positionBindings(captured!.sql);
      plan = (await connection.query(`explain (analyze, buffers) ${sql}`, captured!.bindings)).rows;
    } finally {
      await db.client.releaseConnection(connection);
    }
    console.log(`\n## ${name} — ${pageName}\n${plan.map((r) => r['QUERY PLAN']).join('\n')}`);
  }
}

async function main(): Promise<void> {
  await withServer((admin) => admin.raw(`create database "${scratch}"`));
  const db = createDb(urlOf(scratch), 2);
  try {
    await migrateAndSeed(db);
    const started = Date.now();
    await fill(db);
    console.log(`${rows} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const admin = '00000000-0000-4000-9000-000000000007';
    const user = '00000000-0000-4000-8000-000000000abc';
    await explain(db, 'no filter', {});
    await explain(db, 'actor', { actorId: admin });
    await explain(db, 'target user', { userId: user });
    await explain(db, 'event', { event: 'impersonation.started' });
    await explain(db, 'event and time range', { event: 'login.failed', from: new Date('2026-06-01T00:00:00Z'), to: new Date('2026-06-08T00:00:00Z') });
    await explain(db, 'actor and event', { actorId: admin, event: 'user.suspended' });
  } finally {
    await db.destroy();
    await withServer((admin) => admin.raw(`drop database if exists "${scratch}" with (force)`));
  }
}

await main();
