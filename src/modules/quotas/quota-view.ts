import type { Knex } from 'knex';
import type { Quota } from '../../../sdk/src/types.gen.js';
import { periodBounds, type PeriodType, type UserQuotaRow } from './quota-sync.js';

/** A quota row as the API shows it (the spec's `Quota`). */
export function toQuota(row: UserQuotaRow): Quota {
  return {
    quota_type: row.quota_type,
    max_allowed: row.max_allowed,
    current_usage: row.current_usage,
    remaining: Math.max(0, row.max_allowed - row.current_usage),
    period_type: row.period_type,
    period_start: row.period_start ? row.period_start.toISOString() : null,
    period_end: row.period_end ? row.period_end.toISOString() : null,
    can_renew: row.can_renew,
    renew_action: row.renew_action,
    renewed_at: row.renewed_at ? row.renewed_at.toISOString() : null,
  };
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

/**
 * The user's quotas as of `now`, ordered by quota type; ended periods are reset first (written,
 * so what is shown is what the next consume starts from). Does not sync with roles: callers that
 * need limits from the current roles call syncQuotas before.
 */
export async function quotasOf(db: Knex, userId: string, now: Date): Promise<Quota[]> {
  await rollOverPeriods(db, userId, now);
  const rows: UserQuotaRow[] = await db('user_quotas').where({ user_id: userId }).orderBy('quota_type');
  return rows.map(toQuota);
}
