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

/**
 * Restarts the user's periodic quotas whose period has ended: usage 0, bounds of the period
 * containing `now`. The `period_end <= now` re-check in the UPDATE makes it a no-op when a
 * concurrent consume already rolled the row over.
 */
export async function rollOverPeriods(db: Knex, userId: string, now: Date): Promise<void> {
  const ended: Array<Pick<UserQuotaRow, 'id' | 'period_type'>> = await db('user_quotas')
    .where({ user_id: userId })
    .whereNotNull('period_type')
    .andWhere((q) => q.whereNull('period_end').orWhere('period_end', '<=', now))
    .select('id', 'period_type');
  for (const row of ended) {
    const bounds = periodBounds(row.period_type as PeriodType, now);
    await db('user_quotas')
      .where({ id: row.id })
      .andWhere((q) => q.whereNull('period_end').orWhere('period_end', '<=', now))
      .update({ current_usage: 0, period_start: bounds.start, period_end: bounds.end, updated_at: now });
  }
}

/** SQL: the row's period has ended (or never got bounds), so its usage restarts at zero. */
const periodEnded = `(period_type is not null and (period_end is null or period_end <= cast(:now as timestamptz)))`;
/** SQL: the usage a consume starts from, bigint so `+ amount` cannot overflow int4. */
const baseUsage = `(case when ${periodEnded} then 0 else cast(current_usage as bigint) end)`;

/** SQL: one bound of the period containing :now, for whichever period type the row has. */
function newBound(which: 'start' | 'end'): string {
  const param = (type: PeriodType) => `cast(:${type}_${which} as timestamptz)`;
  return `(case period_type when 'daily' then ${param('daily')} when 'weekly' then ${param('weekly')} when 'monthly' then ${param('monthly')} end)`;
}

/**
 * One conditional UPDATE: rolls an ended period over and adds `amount` only when it fits.
 * Under READ COMMITTED a concurrent writer's lock makes PostgreSQL re-check the WHERE on the
 * row's newest version, so parallel consumes can never together exceed max_allowed.
 */
const consumeSql = `
  update user_quotas set
    current_usage = ${baseUsage} + cast(:amount as integer),
    period_start = case when ${periodEnded} then ${newBound('start')} else period_start end,
    period_end = case when ${periodEnded} then ${newBound('end')} else period_end end,
    updated_at = cast(:now as timestamptz)
  where user_id = :userId and quota_type = :quotaType
    and ${baseUsage} + cast(:amount as integer) <= max_allowed
  returning *`;

function boundBindings(now: Date): Record<string, Date> {
  const bindings: Record<string, Date> = {};
  for (const type of ['daily', 'weekly', 'monthly'] as const) {
    const { start, end } = periodBounds(type, now);
    bindings[`${type}_start`] = start;
    bindings[`${type}_end`] = end;
  }
  return bindings;
}

/** `user_quotas`: each user's counters, kept in line with their roles by syncQuotas. */
export const userQuotasRepo = {
  async ofUser(db: Knex, userId: string): Promise<UserQuotaRow[]> {
    return db<UserQuotaRow>('user_quotas').where({ user_id: userId }).orderBy('quota_type');
  },

  async find(db: Knex, userId: string, quotaType: string, options: { lock?: boolean } = {}): Promise<UserQuotaRow | undefined> {
    const query = db<UserQuotaRow>('user_quotas').where({ user_id: userId, quota_type: quotaType }).first();
    return options.lock ? query.forUpdate() : query;
  },

  /** Adds `amount` when it fits (rolling an ended period over first); undefined when it does not fit or there is no such quota. */
  async consume(db: Knex, userId: string, quotaType: string, amount: number, now: Date): Promise<UserQuotaRow | undefined> {
    const result: { rows: UserQuotaRow[] } = await db.raw(consumeSql, { ...boundBindings(now), now, amount, userId, quotaType });
    return result.rows[0];
  },

  /** Usage back to zero; a renewal in a new period also moves the bounds, so the row never shows a stale period. */
  async renew(db: Knex, row: UserQuotaRow, now: Date): Promise<UserQuotaRow> {
    const ended = row.period_type !== null && (row.period_end === null || row.period_end <= now);
    const bounds = ended ? periodBounds(row.period_type!, now) : null;
    const [renewed] = (await db('user_quotas')
      .where({ id: row.id })
      .update({ current_usage: 0, renewed_at: now, updated_at: now, ...(bounds ? { period_start: bounds.start, period_end: bounds.end } : {}) })
      .returning('*')) as UserQuotaRow[];
    return renewed!;
  },
};
