import Big from 'big.js';
import type { RecommendationEvidence } from '../../../../libs/contracts/src/usage-page.types';
import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsToNumber, roundUsd } from '../../../common/money/credits';
import type { PlanCostInput } from './recommendation';
import { planCostFor } from './recommendation';

/** A forecast needs this many days of data before it may recommend a plan on its own. */
export const MIN_DAYS_OF_DATA = 7;

export interface EvidenceInput {
  plans: PlanCostInput[];
  currentPlan: string;
  recommendedPlan: string;
  /** Whether the cheapest plan for the central projection is another plan (recommendPlan's shouldChange). */
  shouldChange: boolean;
  usedCredits: CreditHundredths;
  /** The ends of the forecast range at period end (forecastRange). */
  low: CreditHundredths;
  high: CreditHundredths;
  /** Days since the first day with usage this period. */
  daysOfData: number;
}

export type { RecommendationEvidence };

const usd = (value: number) => `$${value.toFixed(2)}`;

/**
 * The rule that stands between a projection and a "switch plans" headline: recommend another plan only when
 * (1) there are at least 7 days of data this period, or the credits already used cost less on that plan
 * (no forecast needed), and (2) that plan is cheaper at both the low and the high end of the forecast range,
 * so the saving does not depend on where in the range the period ends.
 */
export function assessRecommendation(input: EvidenceInput): RecommendationEvidence {
  const current = input.plans.find((p) => p.name === input.currentPlan);
  const recommended = input.plans.find((p) => p.name === input.recommendedPlan);
  const costs = (credits: CreditHundredths) => {
    const a = current ? planCostFor(current, credits) : null;
    const b = recommended ? planCostFor(recommended, credits) : null;
    return { current: a === null ? null : roundUsd(a), recommended: b === null ? null : roundUsd(b) };
  };
  const saving = (credits: CreditHundredths): number | null => {
    const c = costs(credits);
    if (c.current === null || c.recommended === null) return null;
    return roundUsd(new Big(c.current).minus(c.recommended));
  };
  const cheaperAt = (credits: CreditHundredths) => {
    const c = costs(credits);
    return c.recommended !== null && (c.current === null || c.recommended < c.current);
  };

  const changes = input.shouldChange && input.recommendedPlan !== input.currentPlan;
  const enoughData = input.daysOfData >= MIN_DAYS_OF_DATA || (changes && cheaperAt(input.usedCredits));
  const cheaperAcrossRange = changes && cheaperAt(input.low) && cheaperAt(input.high);
  const supported = changes && enoughData && cheaperAcrossRange;

  const low = hundredthsToNumber(input.low);
  const high = hundredthsToNumber(input.high);
  const days = `${input.daysOfData.toFixed(1)} days of data`;
  const savingRange = { low: changes ? saving(input.low) : null, high: changes ? saving(input.high) : null };
  let reason: string;
  if (!changes) {
    reason = `${input.currentPlan} is the cheapest plan for the forecast (${days})`;
  } else if (!enoughData) {
    reason = `Not enough data to recommend a change: ${days}, a recommendation needs ${MIN_DAYS_OF_DATA} (or credits already used that cost less on ${input.recommendedPlan})`;
  } else if (!cheaperAcrossRange) {
    reason = `The saving is smaller than the forecast's uncertainty: ${input.recommendedPlan} is not cheaper across the whole range of ${low} to ${high} credits`;
  } else {
    const fmt = (v: number | null) => (v === null ? 'the cost of being capped' : usd(v));
    reason = `Based on ${days}: ${input.recommendedPlan} is cheaper across the forecast range of ${low} to ${high} credits, saving ${fmt(savingRange.low)} to ${fmt(savingRange.high)}`;
  }
  return {
    supported,
    daysOfData: input.daysOfData,
    minDaysOfData: MIN_DAYS_OF_DATA,
    projectedRange: { low, high },
    savingRange,
    checks: { enoughData, cheaperAcrossRange },
    reason,
  };
}
