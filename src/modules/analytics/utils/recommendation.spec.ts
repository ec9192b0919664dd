import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../../common/errors/domain-error';
import type { PlanCostInput } from './recommendation';
import { planCostFor, recommendPlan } from './recommendation';

// The seed plans (docs/catalogue.md).
const FREE: PlanCostInput = { name: 'free', displayName: 'Free Plan', monthlyCredits: 100, monthlyPrice: 0, overageRate: null, isActive: true };
const STARTER: PlanCostInput = { name: 'starter', displayName: 'Starter Plan', monthlyCredits: 1000, monthlyPrice: 19, overageRate: 0.02, isActive: true };
const PROFESSIONAL: PlanCostInput = {
  name: 'professional',
  displayName: 'Professional Plan',
  monthlyCredits: 5000,
  monthlyPrice: 49,
  overageRate: 0.01,
  isActive: true,
};
const ENTERPRISE: PlanCostInput = {
  name: 'enterprise',
  displayName: 'Enterprise Plan',
  monthlyCredits: 15000,
  monthlyPrice: 99,
  overageRate: 0.008,
  isActive: true,
};
const SEEDED = [FREE, STARTER, PROFESSIONAL, ENTERPRISE];

const h = (credits: number) => Math.round(credits * 100);

describe('planCostFor', () => {
  const rows: Array<[PlanCostInput, number, string | null]> = [
    [STARTER, 3000, '59'], // 19 + 2000 * 0.02
    [PROFESSIONAL, 3000, '49'],
    [ENTERPRISE, 20000, '139'], // 99 + 5000 * 0.008
    [PROFESSIONAL, 20000, '199'], // 49 + 15000 * 0.01
    [STARTER, 1000, '19'], // exactly the allowance: no overage
    [STARTER, 1000.25, '19.005'], // exact: rounding is the caller's
    [ENTERPRISE, 15001.23, '99.00984'],
    [STARTER, 0, '19'],
    [FREE, 100, '0'],
    [FREE, 100.01, null], // hard cap exceeded: infinite
    [FREE, 150, null],
    [{ ...STARTER, overageRate: 0 }, 1000.01, null], // rate 0 is a hard cap too
    [{ ...STARTER, overageRate: 0 }, 999.99, '19'],
  ];
  it.each(rows.map(([plan, credits, cost]) => [plan.name, plan.overageRate, credits, cost, plan] as const))(
    '%s (rate %p) at %p credits costs %p',
    (_name, _rate, credits, expected, plan) => {
      const cost = planCostFor(plan, h(credits));
      expect(cost === null ? null : cost.toString()).toBe(expected);
    },
  );
});

describe('recommendPlan', () => {
  it('starter projecting 3000 credits: professional is $10 cheaper', () => {
    expect(recommendPlan(SEEDED, 'starter', h(3000))).toEqual({
      currentPlan: 'starter',
      recommendedPlan: 'professional',
      projectedCredits: 3000,
      currentCost: 59,
      recommendedCost: 49,
      saving: 10,
      shouldChange: true,
      reason: 'Projected 3000 credits cost $59.00 on starter and $49.00 on professional: switching saves $10.00',
      options: [
        { plan: 'free', cost: null },
        { plan: 'starter', cost: 59 },
        { plan: 'professional', cost: 49 },
        { plan: 'enterprise', cost: 99 },
      ],
    });
  });

  it('free projecting 150 credits: free cannot cover it, starter does for $19', () => {
    const r = recommendPlan(SEEDED, 'free', h(150));
    expect(r).toMatchObject({ recommendedPlan: 'starter', currentCost: null, recommendedCost: 19, saving: null, shouldChange: true });
    expect(r.reason).toBe(
      'Projected 150 credits exceed the 100 credits of free, which has no overage (hard cap): starter covers them for $19.00',
    );
  });

  it.each<[string, PlanCostInput[], string, number, string, number | null, number | null, number | null, boolean]>([
    // name, plans, current, projected credits, recommended, currentCost, recommendedCost, saving, shouldChange
    ['starter at 500 stays (free is capped at 100)', SEEDED, 'starter', 500, 'starter', 19, 19, 0, false],
    ['enterprise at 20000 stays ($139 vs professional $199)', SEEDED, 'enterprise', 20000, 'enterprise', 139, 139, 0, false],
    ['free at exactly 100 stays', SEEDED, 'free', 100, 'free', 0, 0, 0, false],
    ['free at 100.01 must move', SEEDED, 'free', 100.01, 'starter', null, 19, null, true],
    ['professional at 1000 moves down to starter', SEEDED, 'professional', 1000, 'starter', 49, 19, 30, true],
    ['enterprise at 0 moves to free', SEEDED, 'enterprise', 0, 'free', 99, 0, 99, true],
    // 19 + 1500 * 0.02 = 49 = professional: a tie keeps the current plan
    ['tie with the current plan stays', SEEDED, 'starter', 2500, 'starter', 49, 49, 0, false],
    // tie between starter and professional, neither current: more credits wins
    ['tie between others picks more credits', SEEDED, 'enterprise', 2500, 'professional', 99, 49, 50, true],
    // 19 + 0.25 * 0.02 = 19.005 -> 19.01 (half-up); 0 on free
    ['costs are rounded half-up to cents', SEEDED, 'starter', 1000.25, 'starter', 19.01, 19.01, 0, false],
    ['sub-cent overage on enterprise', [STARTER, ENTERPRISE], 'enterprise', 15001.23, 'enterprise', 99.01, 99.01, 0, false],
    ['inactive professional is ignored', [FREE, STARTER, { ...PROFESSIONAL, isActive: false }, ENTERPRISE], 'starter', 3000, 'starter', 59, 59, 0, false],
  ])('%s', (_name, plans, current, credits, recommended, currentCost, recommendedCost, saving, shouldChange) => {
    const r = recommendPlan(plans, current, h(credits));
    expect({ recommendedPlan: r.recommendedPlan, currentCost: r.currentCost, recommendedCost: r.recommendedCost, saving: r.saving, shouldChange: r.shouldChange }).toEqual({
      recommendedPlan: recommended,
      currentCost,
      recommendedCost,
      saving,
      shouldChange,
    });
    expect(r.currentPlan).toBe(current);
    expect(r.projectedCredits).toBe(credits);
  });

  it('lists only active plans as options, and says why it stays', () => {
    const r = recommendPlan([FREE, STARTER, { ...PROFESSIONAL, isActive: false }, ENTERPRISE], 'starter', h(3000));
    expect(r.options).toEqual([
      { plan: 'free', cost: null },
      { plan: 'starter', cost: 59 },
      { plan: 'enterprise', cost: 99 },
    ]);
    expect(r.reason).toBe('Projected 3000 credits cost $59.00 on starter, the cheapest available plan: no change needed');
  });

  it('keeps a deactivated current plan as a candidate (staying needs no switch)', () => {
    const legacy: PlanCostInput = { name: 'legacy', displayName: 'Legacy', monthlyCredits: 4000, monthlyPrice: 10, overageRate: 0.01, isActive: false };
    const r = recommendPlan([...SEEDED, legacy], 'legacy', h(3000));
    expect(r).toMatchObject({ recommendedPlan: 'legacy', currentCost: 10, shouldChange: false });
    expect(r.options.map((o) => o.plan)).toEqual(['free', 'starter', 'professional', 'enterprise', 'legacy']);
  });

  it('when no plan can cover the projection it stays and says so', () => {
    const trial: PlanCostInput = { name: 'trial', displayName: 'Trial', monthlyCredits: 120, monthlyPrice: 0, overageRate: 0, isActive: true };
    const r = recommendPlan([FREE, trial, { ...STARTER, isActive: false }], 'free', h(150));
    expect(r).toMatchObject({ recommendedPlan: 'free', currentCost: null, recommendedCost: null, saving: null, shouldChange: false });
    expect(r.reason).toMatch(/exceed the included credits of every available plan/);
  });

  it('rejects an unknown current plan', () => {
    let error: unknown;
    try {
      recommendPlan(SEEDED, 'gold', h(10));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('PLAN_NOT_FOUND');
  });
});
