import Big from 'big.js';
import { DomainError } from '../../../common/errors/domain-error';
import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsToNumber, roundUsd } from '../../../common/money/credits';

export interface PlanCostInput {
  name: string;
  displayName: string;
  monthlyCredits: number;
  monthlyPrice: number;
  overageRate: number | null;
  isActive: boolean;
}

export interface Recommendation {
  currentPlan: string;
  recommendedPlan: string;
  projectedCredits: number;
  /** USD; null when the current plan cannot cover the projection (hard cap). */
  currentCost: number | null;
  /** USD; null only when no candidate plan can cover the projection. */
  recommendedCost: number | null;
  /** USD vs current; null when the current cost is infinite. */
  saving: number | null;
  shouldChange: boolean;
  reason: string;
  options: Array<{ plan: string; cost: number | null }>;
}

/**
 * SPEC 7: price + max(0, P - monthlyCredits) * overageRate; null (infinite) when the plan is hard-capped
 * (overageRate null or <= 0) and P exceeds its credits.
 */
export function planCostFor(plan: PlanCostInput, projectedCredits: CreditHundredths): Big | null {
  const excess = new Big(projectedCredits).div(100).minus(plan.monthlyCredits);
  const price = new Big(plan.monthlyPrice);
  if (excess.lte(0)) return price;
  const rate = plan.overageRate;
  if (rate === null || !(rate > 0)) return null;
  return price.plus(excess.times(rate));
}

const usd = (value: number) => `$${value.toFixed(2)}`;

interface Option {
  plan: PlanCostInput;
  /** Rounded to cents: plans are compared on what would be invoiced. */
  cost: number | null;
}

function cheaper(a: Option, b: Option, currentPlan: string): Option {
  if (b.cost === null) return a;
  if (a.cost === null) return b;
  if (a.cost !== b.cost) return a.cost < b.cost ? a : b;
  if (a.plan.name === currentPlan) return a;
  if (b.plan.name === currentPlan) return b;
  return b.plan.monthlyCredits > a.plan.monthlyCredits ? b : a;
}

/**
 * The cheapest active plan for the projected consumption (ties: stay, else more credits, else list order).
 * The current plan is always a candidate even if deactivated, since staying on it needs no switch.
 */
export function recommendPlan(plans: PlanCostInput[], currentPlan: string, projectedCredits: CreditHundredths): Recommendation {
  const current = plans.find((p) => p.name === currentPlan);
  if (!current) throw new DomainError('PLAN_NOT_FOUND', `Plan ${currentPlan} not found`, { plan: currentPlan });

  const costOf = (plan: PlanCostInput) => {
    const cost = planCostFor(plan, projectedCredits);
    return cost === null ? null : roundUsd(cost);
  };
  const options: Option[] = plans.filter((p) => p.isActive || p === current).map((plan) => ({ plan, cost: costOf(plan) }));
  const currentOption = options.find((o) => o.plan === current)!;
  const best = options.reduce((a, b) => cheaper(a, b, currentPlan), currentOption);

  const projected = hundredthsToNumber(projectedCredits);
  const currentCost = currentOption.cost;
  const recommendedCost = best.cost;
  const shouldChange = best !== currentOption;
  const saving = currentCost === null || recommendedCost === null ? null : roundUsd(new Big(currentCost).minus(recommendedCost));

  let reason: string;
  if (recommendedCost === null) {
    reason = `Projected ${projected} credits exceed the included credits of every available plan, and none allows overage`;
  } else if (currentCost === null) {
    reason =
      `Projected ${projected} credits exceed the ${current.monthlyCredits} credits of ${current.name}, which has no overage (hard cap): ` +
      `${best.plan.name} covers them for ${usd(recommendedCost)}`;
  } else if (shouldChange) {
    reason =
      `Projected ${projected} credits cost ${usd(currentCost)} on ${current.name} and ${usd(recommendedCost)} on ${best.plan.name}: ` +
      `switching saves ${usd(saving!)}`;
  } else {
    reason = `Projected ${projected} credits cost ${usd(currentCost)} on ${current.name}, the cheapest available plan: no change needed`;
  }

  return {
    currentPlan,
    recommendedPlan: best.plan.name,
    projectedCredits: projected,
    currentCost,
    recommendedCost,
    saving,
    shouldChange,
    reason,
    options: options.map((o) => ({ plan: o.plan.name, cost: o.cost })),
  };
}
