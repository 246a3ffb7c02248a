import { expect } from 'chai';
import { periodBounds, type PeriodType, type UserQuotaRow } from '../../src/identity/user-quotas.repo.js';
import { toQuota } from '../../src/identity/quota-view.js';

const at = (iso: string) => new Date(iso);
const bounds = (type: PeriodType, iso: string) => {
  const { start, end } = periodBounds(type, at(iso));
  return { start: start.toISOString(), end: end.toISOString() };
};

describe('quota periods (UTC)', () => {
  describe('daily', () => {
    it('runs from midnight to the next midnight', () => {
      expect(bounds('daily', '2026-03-10T13:45:00.000Z')).to.deep.equal({ start: '2026-03-10T00:00:00.000Z', end: '2026-03-11T00:00:00.000Z' });
    });

    it('puts midnight itself in the day it starts and the last millisecond in the day it ends', () => {
      expect(bounds('daily', '2026-03-11T00:00:00.000Z').start).to.equal('2026-03-11T00:00:00.000Z');
      expect(bounds('daily', '2026-03-10T23:59:59.999Z').end).to.equal('2026-03-11T00:00:00.000Z');
    });

    it('crosses month and year ends', () => {
      expect(bounds('daily', '2026-04-30T22:00:00.000Z').end).to.equal('2026-05-01T00:00:00.000Z');
      expect(bounds('daily', '2026-12-31T23:00:00.000Z')).to.deep.equal({ start: '2026-12-31T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' });
    });
  });

  describe('weekly (ISO week, from Monday)', () => {
    it('a Wednesday belongs to the week of the Monday before', () => {
      expect(bounds('weekly', '2026-03-11T09:00:00.000Z')).to.deep.equal({ start: '2026-03-09T00:00:00.000Z', end: '2026-03-16T00:00:00.000Z' });
    });

    it('a Monday starts its own week', () => {
      expect(bounds('weekly', '2026-03-16T00:00:00.000Z')).to.deep.equal({ start: '2026-03-16T00:00:00.000Z', end: '2026-03-23T00:00:00.000Z' });
    });

    it('a Sunday ends the week, which turns over on the Monday after', () => {
      expect(bounds('weekly', '2026-03-15T23:59:59.999Z')).to.deep.equal({ start: '2026-03-09T00:00:00.000Z', end: '2026-03-16T00:00:00.000Z' });
      expect(bounds('weekly', '2026-03-16T00:00:00.000Z').start).to.equal(bounds('weekly', '2026-03-15T23:59:59.999Z').end);
    });

    it('spans a month end and a year end', () => {
      // Thursday 30 April 2026 → Monday 27 April to Monday 4 May.
      expect(bounds('weekly', '2026-04-30T12:00:00.000Z')).to.deep.equal({ start: '2026-04-27T00:00:00.000Z', end: '2026-05-04T00:00:00.000Z' });
      // Friday 1 January 2027 → Monday 28 December 2026 to Monday 4 January 2027.
      expect(bounds('weekly', '2027-01-01T08:00:00.000Z')).to.deep.equal({ start: '2026-12-28T00:00:00.000Z', end: '2027-01-04T00:00:00.000Z' });
    });
  });

  describe('monthly (calendar month)', () => {
    it('runs from the 1st to the 1st of the next month', () => {
      expect(bounds('monthly', '2026-03-17T10:00:00.000Z')).to.deep.equal({ start: '2026-03-01T00:00:00.000Z', end: '2026-04-01T00:00:00.000Z' });
    });

    it('handles short months, leap years and the last instant of a month', () => {
      expect(bounds('monthly', '2026-02-28T23:59:59.999Z')).to.deep.equal({ start: '2026-02-01T00:00:00.000Z', end: '2026-03-01T00:00:00.000Z' });
      expect(bounds('monthly', '2028-02-29T12:00:00.000Z')).to.deep.equal({ start: '2028-02-01T00:00:00.000Z', end: '2028-03-01T00:00:00.000Z' });
      expect(bounds('monthly', '2026-01-31T23:59:59.999Z').end).to.equal('2026-02-01T00:00:00.000Z');
    });

    it('turns over at the year end', () => {
      expect(bounds('monthly', '2026-12-31T23:59:59.999Z')).to.deep.equal({ start: '2026-12-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' });
      expect(bounds('monthly', '2027-01-01T00:00:00.000Z').start).to.equal('2027-01-01T00:00:00.000Z');
    });
  });

  it('every period contains the instant it was computed for', () => {
    const instants = ['2026-01-01T00:00:00.000Z', '2026-06-15T12:34:56.789Z', '2026-12-31T23:59:59.999Z', '2028-02-29T00:00:00.001Z'];
    for (const type of ['daily', 'weekly', 'monthly'] as const) {
      for (const iso of instants) {
        const { start, end } = periodBounds(type, at(iso));
        expect(start.getTime(), `${type} ${iso}`).to.be.at.most(at(iso).getTime());
        expect(end.getTime(), `${type} ${iso}`).to.be.greaterThan(at(iso).getTime());
      }
    }
  });
});

describe('quota view', () => {
  const row = (overrides: Partial<UserQuotaRow>): UserQuotaRow => ({
    id: '00000000-0000-4000-8000-000000000000',
    user_id: '00000000-0000-4000-8000-000000000001',
    quota_type: 'quiz_plays',
    max_allowed: 20,
    current_usage: 0,
    period_type: null,
    period_start: null,
    period_end: null,
    can_renew: false,
    renew_action: null,
    renewed_at: null,
    created_at: at('2026-03-01T00:00:00.000Z'),
    updated_at: at('2026-03-01T00:00:00.000Z'),
    ...overrides,
  });

  it('remaining is what is left, never below zero (usage over a lowered limit)', () => {
    expect(toQuota(row({ current_usage: 7 })).remaining).to.equal(13);
    expect(toQuota(row({ current_usage: 500 })).remaining).to.equal(0);
  });

  it('shows timestamps in RFC 3339 UTC and nulls as nulls', () => {
    const quota = toQuota(row({ period_type: 'daily', period_start: at('2026-03-10T00:00:00Z'), period_end: at('2026-03-11T00:00:00Z'), renewed_at: at('2026-03-10T08:00:00Z') }));
    expect(quota).to.include({ period_start: '2026-03-10T00:00:00.000Z', period_end: '2026-03-11T00:00:00.000Z', renewed_at: '2026-03-10T08:00:00.000Z' });
    expect(toQuota(row({}))).to.include({ period_type: null, period_start: null, period_end: null, renewed_at: null });
  });
});
