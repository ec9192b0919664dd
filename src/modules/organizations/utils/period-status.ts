import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsToNumber } from '../../../common/money/credits';

/** The share of the allowance from which an organization is shown as `warning` (the first usage threshold). */
export const WARNING_SHARE = 0.8;

/**
 * Where an organization stands this period, for the operators' list:
 *  - `ok`: under 80 % of its allowance;
 *  - `warning`: 80 % or more of the allowance used, credits left;
 *  - `overage`: past its allowance and top-ups on a plan with overage (billed extra);
 *  - `exhausted`: nothing left on a hard-capped plan (its usage is refused until the next period or a top-up).
 */
export type PeriodStatus = 'ok' | 'warning' | 'overage' | 'exhausted';

export interface PeriodUsageInput {
  allowance: CreditHundredths;
  allowanceUsed: CreditHundredths;
  consumed: CreditHundredths;
  overage: CreditHundredths;
  openTopUps: CreditHundredths;
  /**
   * Credits remaining computed exactly from the stored micro-credit amounts and rounded once (the summary's
   * `creditsRemaining`); without it, from the rounded parts above.
   */
  remaining?: CreditHundredths;
  hardCap: boolean;
}

export interface PeriodUsage {
  /** Credits used this period (allowance, top-ups and overage). */
  used: number;
  allowance: number;
  /** Credits remaining: allowance left plus open top-ups (the usage summary's definition). */
  remaining: number;
  overage: number;
  /** used / allowance, 2 decimals (100 when used with no allowance). */
  percentUsed: number;
  status: PeriodStatus;
}

export function periodUsage(input: PeriodUsageInput): PeriodUsage {
  const remaining = input.remaining ?? Math.max(0, input.allowance - input.allowanceUsed) + input.openTopUps;
  const percentUsed = input.allowance > 0 ? Math.round((input.consumed * 10_000) / input.allowance) / 100 : input.consumed > 0 ? 100 : 0;
  let status: PeriodStatus = 'ok';
  if (input.overage > 0) status = 'overage';
  else if (remaining <= 0 && input.hardCap) status = 'exhausted';
  else if (input.allowance > 0 && input.allowanceUsed * 100 >= input.allowance * WARNING_SHARE * 100) status = 'warning';
  return { used: hundredthsToNumber(input.consumed), allowance: hundredthsToNumber(input.allowance), remaining: hundredthsToNumber(remaining), overage: hundredthsToNumber(input.overage), percentUsed, status };
}
