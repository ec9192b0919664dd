import { describe, expect, it } from '@jest/globals';
import { parsePeriodKey } from '../../../common/time/period';
import { planNameForPeriod } from './period-plan';

describe('planNameForPeriod', () => {
  const org = { plan_name: 'starter', pending_plan: 'professional', pending_plan_from: new Date('2028-03-01T00:00:00.000Z') };
  it.each([
    ['2028-02', 'starter'],
    ['2028-03', 'professional'],
    ['2028-04', 'professional'],
  ])('%s: %s', (key, plan) => {
    expect(planNameForPeriod(org, parsePeriodKey(key))).toBe(plan);
  });
  it('without a pending change, the plan', () => {
    expect(planNameForPeriod({ plan_name: 'free', pending_plan: null, pending_plan_from: null }, parsePeriodKey('2028-02'))).toBe('free');
  });
});
