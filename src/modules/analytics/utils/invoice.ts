import Big from 'big.js';
import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsToNumber, roundUsd } from '../../../common/money/credits';

export interface InvoiceInput {
  planName: string;
  /** USD for the period (the caller picks monthly or the annual share). */
  planPrice: number;
  includedCredits: CreditHundredths;
  usedCredits: CreditHundredths;
  overageCredits: CreditHundredths;
  /** USD per credit; null = hard cap. */
  overageRate: number | null;
  /** Granted in the period. */
  topUpCredits: CreditHundredths;
  /** USD charged for those top-ups, when they are sold rather than granted free. */
  topUpCost?: number;
  /**
   * USD of the overage as recorded with each debit, at the rate in force when it was consumed (SPEC 4):
   * when given it is the overage line, so a later plan change never re-prices consumed overage.
   */
  recordedOverageCost?: string;
  /** The plans the period ran on, oldest first (a plan change inside the period lists both). */
  plans?: PeriodPlan[];
}

export interface PeriodPlan {
  plan: string;
  /** When it took effect for this period (the period start for the plan it began on). */
  from: string;
}

export interface InvoiceLines {
  plan: string;
  planPrice: number;
  includedCredits: number;
  usedCredits: number;
  overageCredits: number;
  overageRate: number;
  overageCost: number;
  topUpCredits: number;
  /** Present only when the input carries a top-up cost; then part of the total. */
  topUpCost?: number;
  total: number;
  /** Present when the caller knows the period's plan history. */
  plans?: PeriodPlan[];
}

/** Invoice lines for a period (SPEC 7): each USD line rounded half-up to cents, the total summing the rounded lines. */
export function buildInvoice(input: InvoiceInput): InvoiceLines {
  const rate = input.overageRate ?? 0;
  const planPrice = roundUsd(new Big(input.planPrice));
  const overageCost = roundUsd(input.recordedOverageCost === undefined ? new Big(input.overageCredits).div(100).times(rate) : new Big(input.recordedOverageCost));
  const topUpCost = input.topUpCost === undefined ? undefined : roundUsd(new Big(input.topUpCost));
  // Sum the shown (rounded) lines so the invoice adds up to the cent.
  const total = roundUsd(new Big(planPrice).plus(overageCost).plus(topUpCost ?? 0));

  return {
    plan: input.planName,
    planPrice,
    includedCredits: hundredthsToNumber(input.includedCredits),
    usedCredits: hundredthsToNumber(input.usedCredits),
    overageCredits: hundredthsToNumber(input.overageCredits),
    overageRate: rate,
    overageCost,
    topUpCredits: hundredthsToNumber(input.topUpCredits),
    ...(topUpCost === undefined ? {} : { topUpCost }),
    total,
    ...(input.plans ? { plans: input.plans } : {}),
  };
}
