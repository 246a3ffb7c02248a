/** Rows of (user_id, name) as a map from each user to their names, in the rows' order. */
export function namesByUser(rows: Array<{ user_id: string; name: string }>): Map<string, string[]> {
  const byUser = new Map<string, string[]>();
  for (const { user_id, name } of rows) byUser.set(user_id, [...(byUser.get(user_id) ?? []), name]);
  return byUser;
}
