import type { Knex } from 'knex';

/**
 * Records every SQL statement (BEGIN, COMMIT and savepoints included) the database client runs
 * while `work` runs, with its bindings left out: the shape of what a request costs.
 */
export async function statementsOf<T>(db: Knex, work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const listener = (query: { sql: string }) => statements.push(query.sql.replace(/trx\d+/g, 'trx'));
  db.on('query', listener);
  try {
    const result = await work();
    return { result, statements };
  } finally {
    db.off('query', listener);
  }
}
