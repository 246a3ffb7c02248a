import type { Knex } from 'knex';
import type { Quota, QuotaConsumeRequest, QuotaList, QuotaRenewRequest } from '../../../sdk/src/types.gen.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import { recordAudit, type RequestContext } from '../audit/audit.js';
import { requirePermission, requireSelfOr } from '../rbac/authorize.js';
import { usersRepo } from '../users/users.repo.js';
import { periodBounds, syncQuotas, type PeriodType, type UserQuotaRow } from './quota-sync.js';
import { quotasOf, toQuota } from './quota-view.js';

export const readUsersPermission = 'sesame:read:users';
export const writeQuotasPermission = 'sesame:write:quotas';

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

/** Who calls: the access token's user and session. */
export interface QuotaCaller {
  userId: string;
  sessionId?: string;
}

/** A user's quotas: list, consume, renew (SPEC §4.5). */
export class QuotasService {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
  ) {}

  /** Yourself, or with sesame:read:users; limits follow the user's current roles. */
  async list(callerId: string, userId: string): Promise<QuotaList> {
    await requireSelfOr(this.db, this.clock, callerId, userId, readUsersPermission);
    const now = this.clock.now();
    await this.requireLiveUser(userId);
    await syncQuotas(this.db, userId, now);
    return { items: await quotasOf(this.db, userId, now), next_cursor: null };
  }

  /** Yourself, or with sesame:write:quotas. All or nothing: 429 quota_exceeded when it does not fit. */
  async consume(callerId: string, userId: string, body: QuotaConsumeRequest): Promise<Quota> {
    await requireSelfOr(this.db, this.clock, callerId, userId, writeQuotasPermission);
    const now = this.clock.now();
    await this.requireLiveUser(userId);
    // Expired grants stop counting before anything is consumed.
    await syncQuotas(this.db, userId, now);
    const amount = body.amount ?? 1;
    const result: { rows: UserQuotaRow[] } = await this.db.raw(consumeSql, { ...boundBindings(now), now, amount, userId, quotaType: body.quota_type });
    const updated = result.rows[0];
    if (updated) return toQuota(updated);
    throw await this.refusal(userId, body.quota_type, amount, now);
  }

  /**
   * Needs sesame:write:quotas (the service that saw the action, never the user alone). Usage
   * goes back to zero; the audit row is written in the same transaction.
   */
  async renew(caller: QuotaCaller, userId: string, body: QuotaRenewRequest, context: RequestContext): Promise<Quota> {
    await requirePermission(this.db, this.clock, caller.userId, writeQuotasPermission);
    const now = this.clock.now();
    await this.requireLiveUser(userId);
    await syncQuotas(this.db, userId, now);
    return this.db.transaction(async (trx) => {
      const row: UserQuotaRow | undefined = await trx('user_quotas').where({ user_id: userId, quota_type: body.quota_type }).forUpdate().first();
      if (!row) throw quotaNotFound(body.quota_type);
      if (!row.can_renew) throw new AppError('quota_not_renewable', { detail: `The ${body.quota_type} quota cannot be renewed.` });
      if (body.renew_action !== row.renew_action) {
        throw new AppError('invalid_renew_action', {
          detail: `This action does not renew the ${body.quota_type} quota.`,
          errors: [{ path: '/body/renew_action', message: `must be ${row.renew_action}` }],
        });
      }
      // A renewal in a new period also moves the bounds, so the row never shows a stale period.
      const ended = row.period_type !== null && (row.period_end === null || row.period_end <= now);
      const bounds = ended ? periodBounds(row.period_type!, now) : null;
      const [renewed] = (await trx('user_quotas')
        .where({ id: row.id })
        .update({ current_usage: 0, renewed_at: now, updated_at: now, ...(bounds ? { period_start: bounds.start, period_end: bounds.end } : {}) })
        .returning('*')) as UserQuotaRow[];
      await recordAudit(trx, this.clock, {
        event: 'quota.renewed',
        userId,
        actorId: caller.userId,
        sessionId: caller.sessionId,
        context,
        details: { quota_type: body.quota_type, renew_action: body.renew_action, ...(body.ad_id ? { ad_id: body.ad_id } : {}) },
      });
      return toQuota(renewed!);
    });
  }

  private async requireLiveUser(userId: string): Promise<void> {
    if (!(await usersRepo.findLiveById(this.db, userId))) throw new AppError('user_not_found', { detail: 'No such user.' });
  }

  /** Why a consume updated nothing: no such quota (404), or it does not fit (429). */
  private async refusal(userId: string, quotaType: string, amount: number, now: Date): Promise<AppError> {
    const row: UserQuotaRow | undefined = await this.db('user_quotas').where({ user_id: userId, quota_type: quotaType }).first();
    if (!row) return quotaNotFound(quotaType);
    if (amount > row.max_allowed) {
      // No wait helps: the amount is larger than the whole quota.
      return new AppError('quota_exceeded', { detail: `The ${quotaType} quota allows at most ${row.max_allowed}.` });
    }
    const headers = row.period_type ? { 'Retry-After': String(retryAfterSeconds(row, now)) } : undefined;
    return new AppError('quota_exceeded', { detail: `Not enough left of the ${quotaType} quota.`, headers });
  }
}

function quotaNotFound(quotaType: string): AppError {
  return new AppError('quota_not_found', { detail: `This user has no ${quotaType} quota.` });
}

/** Seconds until the current period ends (at least 1), for a periodic quota. */
function retryAfterSeconds(row: UserQuotaRow, now: Date): number {
  const end = row.period_end && row.period_end > now ? row.period_end : periodBounds(row.period_type!, now).end;
  return Math.max(1, Math.ceil((end.getTime() - now.getTime()) / 1000));
}
