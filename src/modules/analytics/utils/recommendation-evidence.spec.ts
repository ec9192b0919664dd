import { describe, expect, it } from '@jest/globals';
import type { PlanCostInput } from './recommendation';
import { assessRecommendation } from './recommendation-evidence';

const FREE: PlanCostInput = { name: 'free', displayName: 'Free', monthlyCredits: 100, monthlyPrice: 0, overageRate: null, isActive: true };
const STARTER: PlanCostInput = { name: 'starter', displayName: 'Starter', monthlyCredits: 1000, monthlyPrice: 19, overageRate: 0.02, isActive: true };
const PROFESSIONAL: PlanCostInput = { name: 'professional', displayName: 'Professional', monthlyCredits: 5000, monthlyPrice: 49, overageRate: 0.01, isActive: true };
const ENTERPRISE: PlanCostInput = { name: 'enterprise', displayName: 'Enterprise', monthlyCredits: 15000, monthlyPrice: 99, overageRate: 0.008, isActive: true };
const PLANS = [FREE, STARTER, PROFESSIONAL, ENTERPRISE];
const h = (credits: number) => Math.round(credits * 100);

describe('assessRecommendation', () => {
  // [case, current, recommended, shouldChange, used, low, high, days of data, supported, enoughData, cheaperAcrossRange, saving low, saving high]
  it.each<[string, string, string, boolean, number, number, number, number, boolean, boolean, boolean, number | null, number | null]>([
    // The case: one day of data projecting enterprise-sized usage on starter. Used so far (1,500) is cheapest on starter.
    ['one day of data: no recommendation', 'starter', 'enterprise', true, 1500, 1500, 34000, 1, false, false, false, -70, 428], // 29 vs 99; 679 vs 251,
    ['a week of data, cheaper across the range: recommended', 'starter', 'professional', true, 2000, 4000, 5000, 7, true, true, true, 30, 50], // 79 vs 49; 99 vs 49,
    // starter at 2,500 credits = 49 = professional: no saving at the low end.
    ['a week of data, saving within the uncertainty: no recommendation', 'starter', 'professional', true, 2000, 2500, 6000, 8, false, true, false, 0, 60], // 49 vs 49; 119 vs 59,
    ['6.9 days is not 7', 'starter', 'professional', true, 900, 4000, 5000, 6.9, false, false, true, 30, 50],
    // Already 4,000 used: professional is cheaper for what is already spent, whatever the forecast.
    ['few days, but the credits already used cost less elsewhere', 'starter', 'professional', true, 4000, 4000, 9000, 2, true, true, true, 30, 90], // 79 vs 49; 179 vs 89,
    ['hard cap: the current plan cannot cover the range, a week of data', 'free', 'starter', true, 100, 150, 400, 10, true, true, true, null, null],
    ['hard cap reached on day one: used fits free exactly, no forecast yet', 'free', 'starter', true, 100, 100, 2000, 1, false, false, false, -19, null],
    ['staying is cheapest: nothing to support', 'starter', 'starter', false, 500, 600, 900, 20, false, true, false, null, null],
  ])('%s', (_case, current, recommended, shouldChange, used, low, high, daysOfData, supported, enoughData, cheaperAcrossRange, savingLow, savingHigh) => {
    const e = assessRecommendation({ plans: PLANS, currentPlan: current, recommendedPlan: recommended, shouldChange, usedCredits: h(used), low: h(low), high: h(high), daysOfData });
    expect({ supported: e.supported, checks: e.checks, savingRange: e.savingRange }).toEqual({ supported, checks: { enoughData, cheaperAcrossRange }, savingRange: { low: savingLow, high: savingHigh } });
    expect(e.projectedRange).toEqual({ low, high });
    expect(e.minDaysOfData).toBe(7);
    expect(e.reason).toEqual(expect.any(String));
  });

  it('says why it does not recommend', () => {
    const e = assessRecommendation({ plans: PLANS, currentPlan: 'starter', recommendedPlan: 'enterprise', shouldChange: true, usedCredits: h(1500), low: h(1500), high: h(34000), daysOfData: 1 });
    expect(e.reason).toBe('Not enough data to recommend a change: 1.0 days of data, a recommendation needs 7 (or credits already used that cost less on enterprise)');
  });
});
