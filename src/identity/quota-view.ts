import type { Knex } from 'knex';
import type { Quota } from '../../sdk/src/types.gen.js';
import { rollOverPeriods, userQuotasRepo, type UserQuotaRow } from './user-quotas.repo.js';

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
 * The user's quotas as of `now`, ordered by quota type; ended periods are reset first (written,
 * so what is shown is what the next consume starts from). Does not sync with roles: callers that
 * need limits from the current roles call syncQuotas before.
 */
export async function quotasOf(db: Knex, userId: string, now: Date): Promise<Quota[]> {
  await rollOverPeriods(db, userId, now);
  return (await userQuotasRepo.ofUser(db, userId)).map(toQuota);
}
