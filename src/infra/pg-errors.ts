/** Whether a PostgreSQL error is a unique violation (23505), of `constraint` when it is given. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = (err ?? {}) as { code?: string; constraint?: string };
  return e.code === '23505' && (constraint === undefined || e.constraint === constraint);
}
