import type { Knex } from 'knex';
import type { Clock } from '../clock.js';
import type { FastStore, WindowCount } from './store.js';

/**
 * The fast-path store on PostgreSQL (table `fast_store`, unlogged): correct across processes
 * and instances because every operation is one atomic statement.
 */
export class PostgresStore implements FastStore {
  readonly kind = 'postgres' as const;
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
  ) {}

  private at(ttlMs: number): Date {
    return new Date(this.clock.now().getTime() + Math.max(1, Math.ceil(ttlMs)));
  }

  async get(key: string): Promise<string | null> {
    const row = await this.db('fast_store').where({ key }).andWhere('expires_at', '>', this.clock.now()).first('value');
    return row ? (row.value as string) : null;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.db('fast_store').insert({ key, value, expires_at: this.at(ttlMs) }).onConflict('key').merge(['value', 'expires_at']);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const r = await this.db.raw(
      `insert into fast_store (key, value, expires_at) values (?, ?, ?)
       on conflict (key) do update set value = excluded.value, expires_at = excluded.expires_at
       where fast_store.expires_at <= ?
       returning key`,
      [key, value, this.at(ttlMs), this.clock.now()],
    );
    return r.rows.length === 1;
  }

  async delete(key: string): Promise<void> {
    await this.db('fast_store').where({ key }).delete();
  }

  async take(key: string): Promise<string | null> {
    // One statement: of parallel takes, the row lock lets exactly one delete return the row.
    const rows: Array<{ value: string; expires_at: Date }> = await this.db('fast_store').where({ key }).delete().returning(['value', 'expires_at']);
    const row = rows[0];
    return row && row.expires_at > this.clock.now() ? row.value : null;
  }

  async increment(key: string, windowMs: number): Promise<number> {
    return (await this.incrementWindow(key, windowMs)).count;
  }

  async incrementWindow(key: string, windowMs: number): Promise<WindowCount> {
    const now = this.clock.now();
    const r = await this.db.raw(
      `insert into fast_store (key, value, expires_at) values (?, '1', ?)
       on conflict (key) do update set
         value = case when fast_store.expires_at <= ? then '1' else (fast_store.value::bigint + 1)::text end,
         expires_at = case when fast_store.expires_at <= ? then excluded.expires_at else fast_store.expires_at end
       returning value, expires_at`,
      [key, this.at(windowMs), now, now],
    );
    const row = r.rows[0] as { value: string; expires_at: Date };
    return { count: Number(row.value), remainingMs: row.expires_at.getTime() - now.getTime() };
  }

  async decrement(key: string): Promise<void> {
    await this.db('fast_store')
      .where({ key })
      .andWhere('expires_at', '>', this.clock.now())
      .update({ value: this.db.raw('greatest(value::bigint - 1, 0)::text') });
  }

  /** Removes expired entries; run periodically. */
  async purgeExpired(): Promise<number> {
    return this.db('fast_store').where('expires_at', '<=', this.clock.now()).delete();
  }

  async ping(): Promise<void> {
    await this.db.raw('select 1');
  }

  async close(): Promise<void> {
    /* the knex pool is owned and closed by the composition root */
  }
}
