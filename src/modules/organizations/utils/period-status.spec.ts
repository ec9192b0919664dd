import { describe, expect, it } from '@jest/globals';
import { periodUsage } from './period-status';
import type { PeriodUsage } from './period-status';

const h = (credits: number) => Math.round(credits * 100);

describe('periodUsage', () => {
  // [case, allowance, allowance used, consumed, overage, open top-ups, hard cap, expected]
  it.each<[string, number, number, number, number, number, boolean, Partial<PeriodUsage>]>([
    ['nothing used', 1000, 0, 0, 0, 0, false, { used: 0, remaining: 1000, percentUsed: 0, status: 'ok' }],
    ['79.99 % used', 1000, 799.9, 799.9, 0, 0, false, { percentUsed: 79.99, status: 'ok' }],
    ['exactly 80 %: warning', 1000, 800, 800, 0, 0, false, { remaining: 200, percentUsed: 80, status: 'warning' }],
    ['allowance gone, top-ups left on a hard cap: warning, not exhausted', 100, 100, 130, 0, 20, true, { remaining: 20, percentUsed: 130, status: 'warning' }],
    ['hard cap reached: exhausted', 100, 100, 100, 0, 0, true, { remaining: 0, percentUsed: 100, status: 'exhausted' }],
    ['overage on a soft plan', 1000, 1000, 1250.5, 250.5, 0, false, { used: 1250.5, overage: 250.5, remaining: 0, percentUsed: 125.05, status: 'overage' }],
    ['no allowance, some usage', 0, 0, 5, 5, 0, false, { percentUsed: 100, status: 'overage' }],
  ])('%s', (_case, allowance, allowanceUsed, consumed, overage, topUps, hardCap, expected) => {
    expect(periodUsage({ allowance: h(allowance), allowanceUsed: h(allowanceUsed), consumed: h(consumed), overage: h(overage), openTopUps: h(topUps), hardCap })).toMatchObject(expected);
  });
});
