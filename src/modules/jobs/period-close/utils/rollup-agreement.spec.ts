import { describe, expect, it } from '@jest/globals';
import type { Balance } from '../../../analytics/billing.repository';
import { rollupsAgree } from './rollup-agreement';

const balance = (events: number, consumed: number, overage: number): Balance => ({
  planName: 'starter',
  allowance: 100_000,
  allowanceUsed: consumed - overage,
  grantsUsed: 0,
  overage,
  consumed,
  overageCost: '0',
  events,
});
const row = (events: number, credits: number, overage: number, userId: string | null = null) => ({ eventType: 'x', category: 'c', userId, events, credits, overage });
const day = (d: string, events: number, credits: number, overage: number) => ({ day: d, events, credits, overage });

describe('rollupsAgree', () => {
  const monthly = [row(2, 1_300, 0, 'u1'), row(1, 801, 1)];
  const days = [day('2028-01-30', 1, 1_200, 0), day('2028-01-31', 2, 901, 1)];

  it('agrees when the monthly rows sum to the balance and the days to the monthly rows', () => {
    expect(rollupsAgree(balance(3, 2_101, 1), monthly, days)).toBe(true);
  });

  it('disagrees on any of events, credits or overage, on either side', () => {
    expect(rollupsAgree(balance(4, 2_101, 1), monthly, days)).toBe(false);
    expect(rollupsAgree(balance(3, 2_100, 1), monthly, days)).toBe(false);
    expect(rollupsAgree(balance(3, 2_101, 0), monthly, days)).toBe(false);
    expect(rollupsAgree(balance(3, 2_101, 1), monthly, [day('2028-01-30', 1, 1_200, 0)])).toBe(false);
    expect(rollupsAgree(balance(3, 2_101, 1), monthly, [...days.slice(0, 1), day('2028-01-31', 2, 901, 2)])).toBe(false);
    expect(rollupsAgree(balance(3, 2_101, 1), [row(3, 2_101, 1)], [day('2028-01-31', 3, 2_101, 0)])).toBe(false);
  });

  it('treats a missing balance row as nothing used, and no rollups as zero', () => {
    expect(rollupsAgree(undefined, [], [])).toBe(true);
    expect(rollupsAgree(balance(0, 0, 0), [], [])).toBe(true);
    expect(rollupsAgree(undefined, [row(1, 1, 0)], [day('2028-01-01', 1, 1, 0)])).toBe(false);
  });
});
