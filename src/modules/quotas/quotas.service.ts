import type { Knex } from 'knex';
import type { Quota, QuotaConsumeRequest, QuotaList, QuotaRenewRequest } from '../../../sdk/src/types.gen.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { requirePermission, requireSelfOr } from '../../identity/authorize.js';
import { callerOf, type CallerRef } from '../../identity/caller.js';
import { quotasOf, toQuota } from '../../identity/quota-view.js';
import { periodBounds, syncQuotas, userQuotasRepo, type UserQuotaRow } from '../../identity/user-quotas.repo.js';
import { usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';

export const readUsersPermission = 'sesame:read:users';
export const writeQuotasPermission = 'sesame:write:quotas';


/** A user's quotas: list, consume, renew (spec tag `quotas`). */
export class QuotasService {
  private readonly db: Knex;
  private readonly clock: Clock;

  constructor(deps: { db: Knex; clock: Clock }) {
    this.db = deps.db;
    this.clock = deps.clock;
  }

  /** Yourself, or with sesame:read:users; limits follow the user's current roles. */
  async list(callerId: string, userId: string): Promise<QuotaList> {
    await requireSelfOr(this.db, this.clock, callerId, userId, readUsersPermission);
    const now = this.clock.now();
    await this.requireLiveUser(userId);
    await syncQuotas(this.db, userId, now);
    return { items: await quotasOf(this.db, userId, now), next_cursor: null };
  }

  /** Yourself, or with sesame:write:quotas. All or nothing: 429 quota_exceeded when it does not fit. */
  async consume(caller: CallerRef, userId: string, body: QuotaConsumeRequest): Promise<Quota> {
    await requireSelfOr(this.db, this.clock, caller, userId, writeQuotasPermission);
    const now = this.clock.now();
    await this.requireLiveUser(userId);
    // Expired grants stop counting before anything is consumed.
    await syncQuotas(this.db, userId, now);
    const amount = body.amount ?? 1;
    const updated = await userQuotasRepo.consume(this.db, userId, body.quota_type, amount, now);
    if (updated) return toQuota(updated);
    throw await this.refusal(userId, body.quota_type, amount, now);
  }

  /**
   * Needs sesame:write:quotas (the service that saw the action, never the user alone). Usage
   * goes back to zero; the audit row is written in the same transaction.
   */
  async renew(callerRef: CallerRef, userId: string, body: QuotaRenewRequest, context: RequestContext): Promise<Quota> {
    const caller = callerOf(callerRef);
    await requirePermission(this.db, this.clock, caller, writeQuotasPermission);
    const now = this.clock.now();
    await this.requireLiveUser(userId);
    await syncQuotas(this.db, userId, now);
    return this.db.transaction(async (trx) => {
      const row = await userQuotasRepo.find(trx, userId, body.quota_type, { lock: true });
      if (!row) throw quotaNotFound(body.quota_type);
      if (!row.can_renew) throw new AppError('quota_not_renewable', { detail: `The ${body.quota_type} quota cannot be renewed.` });
      if (body.renew_action !== row.renew_action) {
        throw new AppError('invalid_renew_action', {
          detail: `This action does not renew the ${body.quota_type} quota.`,
          errors: [{ path: '/body/renew_action', message: `must be ${row.renew_action}` }],
        });
      }
      const renewed = await userQuotasRepo.renew(trx, row, now);
      await recordAudit(trx, this.clock, {
        event: 'quota.renewed',
        userId,
        actorId: caller.userId,
        sessionId: caller.sessionId,
        context,
        details: {
          quota_type: body.quota_type,
          renew_action: body.renew_action,
          ...(body.ad_id ? { ad_id: body.ad_id } : {}),
          ...(caller.apiKey ? { api_key_id: caller.apiKey.id } : {}),
        },
      });
      return toQuota(renewed);
    });
  }

  private async requireLiveUser(userId: string): Promise<void> {
    if (!(await usersRepo.findLiveById(this.db, userId))) throw new AppError('user_not_found', { detail: 'No such user.' });
  }

  /** Why a consume updated nothing: no such quota (404), or it does not fit (429). */
  private async refusal(userId: string, quotaType: string, amount: number, now: Date): Promise<AppError> {
    const row = await userQuotasRepo.find(this.db, userId, quotaType);
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
