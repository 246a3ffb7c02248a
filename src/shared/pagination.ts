import type { Knex } from 'knex';
import { AppError } from './errors.js';

/** A page request: `?limit=&cursor=` (the spec's list convention). */
export interface PageRequest {
  limit: number;
  cursor?: string;
}

/** A page of a list: `{ items, next_cursor }`. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** The page size when a list request names none. */
export const defaultPageSize = 20;

/** The page a route's validated `?limit=&cursor=` query asks for. */
export function pageOf(query: { limit?: string | number; cursor?: string }): PageRequest {
  return { limit: query.limit === undefined ? defaultPageSize : Number(query.limit), cursor: query.cursor };
}

/** A row of a keyset page ordered by (created_at desc, id desc). */
export interface KeysetRow {
  id: string;
  /** created_at in microseconds since the epoch (exact, as text). */
  created_us: string;
}

/** The SQL for created_at in whole microseconds (exact, unlike a JavaScript Date). */
export const createdUsSql = '(extract(epoch from created_at) * 1000000)::bigint';

const cursorPattern = /^(\d{1,16}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function encodeCursor(row: KeysetRow): string {
  return Buffer.from(`${row.created_us}:${row.id}`).toString('base64url');
}

/** The (created_at in microseconds, id) a page cursor stands for; 400 when it is not one of ours. */
export function decodeCursor(cursor: string): { createdUs: string; id: string } {
  const match = cursorPattern.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) {
    throw new AppError('validation_failed', {
      detail: 'The cursor is not valid; use the next_cursor of a previous page.',
      errors: [{ path: '/query/cursor', message: 'must be the next_cursor of a previous page' }],
    });
  }
  return { createdUs: match[1]!, id: match[2]! };
}

/**
 * Runs `query` (already filtered, selecting the row's columns) as one keyset page, newest first:
 * ordered by (created_at desc, id desc), after the cursor's row, one row more than the page to
 * know whether another page follows.
 */
export async function keysetPage<R extends { id: string }>(db: Knex, query: Knex.QueryBuilder, page: PageRequest): Promise<Page<R>> {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  query
    .select(db.raw(`${createdUsSql}::text as created_us`))
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(page.limit + 1);
  // The cursor's microseconds turned back into a timestamp, so the row comparison is on the bare
  // columns and an index on (..., created_at desc, id desc) serves it.
  if (after) query.whereRaw(`(created_at, id) < (timestamptz 'epoch' + ?::bigint * interval '1 microsecond', ?::uuid)`, [after.createdUs, after.id]);
  const rows: Array<R & KeysetRow> = await query;
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { items, next_cursor: rows.length > page.limit && last ? encodeCursor(last) : null };
}
