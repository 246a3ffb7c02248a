import type { Knex } from 'knex';

export type PeriodType = 'daily' | 'weekly' | 'monthly';

export interface UserQuotaRow {
  id: string;
  user_id: string;
  quota_type: string;
  max_allowed: number;
  current_usage: number;
  period_type: PeriodType | null;
  period_start: Date | null;
  period_end: Date | null;
  can_renew: boolean;
  renew_action: string | null;
  renewed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface Definition {
  quota_type: string;
  max_allowed: number;
  period_type: PeriodType | null;
  can_renew: boolean;
  renew_action: string | null;
}

/** The UTC period containing `now`: the day, the ISO week (from Monday) or the calendar month. */
export function periodBounds(type: PeriodType, now: Date): { start: Date; end: Date } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  if (type === 'daily') return { start: new Date(Date.UTC(y, m, d)), end: new Date(Date.UTC(y, m, d + 1)) };
  if (type === 'weekly') {
    const sinceMonday = (now.getUTCDay() + 6) % 7;
    return { start: new Date(Date.UTC(y, m, d - sinceMonday)), end: new Date(Date.UTC(y, m, d - sinceMonday + 7)) };
  }
  return { start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + 1, 1)) };
}

/**
 * Brings the user's quota rows in line with their current (unexpired) roles: for each quota
 * type, the definition of the highest-priority role that defines it. New types start at zero;
 * existing rows keep their usage (a guest converted to `free` keeps what it used) and take the
 * new limits. Types no role defines any more are left as they are. Writes only what changed.
 */
export async function syncQuotas(db: Knex, userId: string, now: Date): Promise<void> {
  const definitions: Array<Definition & { priority: number }> = await db('quota_definitions as qd')
    .join('roles as r', 'r.id', 'qd.role_id')
    .join('user_roles as ur', 'ur.role_id', 'r.id')
    .where('ur.user_id', userId)
    .andWhere((q) => q.whereNull('ur.expires_at').orWhere('ur.expires_at', '>', now))
    .orderBy([{ column: 'r.priority', order: 'desc' }, { column: 'r.name' }])
    .select('qd.quota_type', 'qd.max_allowed', 'qd.period_type', 'qd.can_renew', 'qd.renew_action', 'r.priority');
  const governing = new Map<string, Definition>();
  for (const d of definitions) if (!governing.has(d.quota_type)) governing.set(d.quota_type, d);
  if (!governing.size) return;
  const existing: UserQuotaRow[] = await db('user_quotas').where({ user_id: userId }).whereIn('quota_type', [...governing.keys()]);
  const byType = new Map(existing.map((row) => [row.quota_type, row]));
  for (const def of governing.values()) {
    const row = byType.get(def.quota_type);
    const bounds = def.period_type ? periodBounds(def.period_type, now) : null;
    const fields = { max_allowed: def.max_allowed, period_type: def.period_type, can_renew: def.can_renew, renew_action: def.renew_action };
    if (!row) {
      await db('user_quotas')
        .insert({ user_id: userId, quota_type: def.quota_type, ...fields, current_usage: 0, period_start: bounds?.start ?? null, period_end: bounds?.end ?? null, created_at: now, updated_at: now })
        .onConflict(['user_id', 'quota_type'])
        .ignore();
      continue;
    }
    const same = row.max_allowed === def.max_allowed && row.period_type === def.period_type && row.can_renew === def.can_renew && row.renew_action === def.renew_action;
    if (same) continue;
    const periodChanged = row.period_type !== def.period_type;
    await db('user_quotas')
      .where({ id: row.id })
      .update({
        ...fields,
        ...(periodChanged ? { period_start: bounds?.start ?? null, period_end: bounds?.end ?? null } : {}),
        updated_at: now,
      });
  }
}
