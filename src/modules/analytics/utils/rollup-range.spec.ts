import { describe, expect, it } from '@jest/globals';
import { planRollupRange } from './rollup-range';

describe('planRollupRange', () => {
  it.each([
    // inside one month: daily only
    ['2026-11-03', '2026-11-20', null, [['2026-11-03', '2026-11-20']]],
    // exactly one whole month
    ['2026-11-01', '2026-11-30', ['2026-11-01', '2026-11-01'], []],
    // a leap February, whole
    ['2028-02-01', '2028-02-29', ['2028-02-01', '2028-02-01'], []],
    // February of a leap year without its 29th is not whole
    ['2028-02-01', '2028-02-28', null, [['2028-02-01', '2028-02-28']]],
    // edges on both sides
    ['2026-10-15', '2027-01-10', ['2026-11-01', '2026-12-01'], [['2026-10-15', '2026-10-31'], ['2027-01-01', '2027-01-10']]],
    // starts on a month start, ends mid-month
    ['2026-11-01', '2026-12-05', ['2026-11-01', '2026-11-01'], [['2026-12-01', '2026-12-05']]],
    // across a year end, two partial months only
    ['2026-12-20', '2027-01-05', null, [['2026-12-20', '2027-01-05']]],
    // one day
    ['2028-02-29', '2028-02-29', null, [['2028-02-29', '2028-02-29']]],
  ] as const)('%s..%s', (from, to, monthly, daily) => {
    const plan = planRollupRange(from, to);
    expect(plan.monthly).toEqual(monthly ? { from: monthly[0], to: monthly[1] } : null);
    expect(plan.daily).toEqual(daily.map(([f, t]) => ({ from: f, to: t })));
  });
});
