import type { Knex } from 'knex';
import type { RateLimitRule } from '../../config/config.js';
import { AppError } from '../../shared/errors.js';

/** The codes a country may receive per window: a default and per-country overrides (null: no budget). */
export interface SmsBudgetRules {
  default: RateLimitRule | null;
  byCountry: Record<string, RateLimitRule | null>;
}

/**
 * The per-country budget of SMS codes (README "Phone sign-in", SMS pumping): fixed windows
 * counted in PostgreSQL (`sms_country_budgets`), one conditional upsert per request, so the cap
 * holds exactly across instances and whatever happens to Redis. Called in the transaction that
 * sends the code: a request that rolls back spends nothing.
 */
export class SmsBudget {
  constructor(private readonly rules: SmsBudgetRules) {}

  /** Spends one code of the country's budget; throws 429 sms_budget_exceeded when it is used up. */
  async spend(trx: Knex, country: string, now: Date): Promise<void> {
    const rule = country in this.rules.byCountry ? this.rules.byCountry[country] : this.rules.default;
    if (!rule) return;
    const windowStart = Math.floor(now.getTime() / rule.windowMs) * rule.windowMs;
    const result = await trx.raw(
      `insert into sms_country_budgets as b (country, window_start, sent) values (?, ?, 1)
       on conflict (country, window_start) do update set sent = b.sent + 1 where b.sent < ?
       returning sent`,
      [country, new Date(windowStart), rule.limit],
    );
    if (result.rows.length === 1) return;
    const seconds = Math.max(1, Math.ceil((windowStart + rule.windowMs - now.getTime()) / 1000));
    throw new AppError('sms_budget_exceeded', {
      detail: `Too many codes were sent to numbers of this country; retry in ${seconds} seconds.`,
      headers: { 'Retry-After': String(seconds) },
    });
  }
}
