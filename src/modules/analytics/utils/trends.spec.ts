import { describe, expect, it } from '@jest/globals';
import { addMonths, parsePeriodKey } from '../../../common/time/period';
import { monthlyTrends } from './trends';
import type { MonthTotals } from './trends';

const months = (from: string, n: number) => Array.from({ length: n }, (_, i) => addMonths(parsePeriodKey(from), i));

describe('monthlyTrends', () => {
  it('computes month-over-month change from the month before the first one shown', () => {
    const totals = new Map<string, MonthTotals>([
      ['2027-12', { events: 10, credits: 20000, overage: 0 }], // 200 credits
      ['2028-01', { events: 15, credits: 30050, overage: 0 }], // 300.50
      // 2028-02 (leap) used nothing
      ['2028-03', { events: 3, credits: 1234, overage: 1234 }], // 12.34
    ]);
    const result = monthlyTrends(months('2027-12', 4), totals);
    expect(result.map((m) => [m.period, m.events, m.credits, m.change])).toEqual([
      ['2028-01', 15, 300.5, { events: 5, credits: 100.5, percent: 50.25 }],
      ['2028-02', 0, 0, { events: -15, credits: -300.5, percent: -100 }],
      ['2028-03', 3, 12.34, { events: 3, credits: 12.34, percent: null }],
    ]);
    expect(result[1]).toMatchObject({ start: '2028-02-01T00:00:00.000Z', end: '2028-03-01T00:00:00.000Z' });
    expect(result[2].overageCredits).toBe(12.34);
  });

  it('rounds the percent half-up to 2 decimals', () => {
    const totals = new Map<string, MonthTotals>([
      ['2026-10', { events: 3, credits: 300, overage: 0 }],
      ['2026-11', { events: 4, credits: 400, overage: 0 }], // +33.333..%
    ]);
    expect(monthlyTrends(months('2026-10', 2), totals)[0].change.percent).toBe(33.33);
  });

  it('answers zeros for months without usage', () => {
    expect(monthlyTrends(months('2026-01', 3), new Map())).toEqual([
      expect.objectContaining({ period: '2026-02', events: 0, credits: 0, change: { events: 0, credits: 0, percent: null } }),
      expect.objectContaining({ period: '2026-03', events: 0, credits: 0 }),
    ]);
  });
});
