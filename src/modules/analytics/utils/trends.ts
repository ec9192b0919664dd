import Big from 'big.js';
import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsToNumber } from '../../../common/money/credits';
import { periodKey } from '../../../common/time/period';
import type { Period } from '../../../common/time/period';

export interface MonthTotals {
  events: number;
  credits: CreditHundredths;
  overage: CreditHundredths;
}

export interface TrendMonth {
  period: string;
  start: string;
  end: string;
  events: number;
  credits: number;
  overageCredits: number;
  /** Against the month before; percent is of credits, 2 decimals, null when the month before used none. */
  change: { events: number; credits: number; percent: number | null };
}

const ZERO: MonthTotals = { events: 0, credits: 0, overage: 0 };

/**
 * Month-over-month totals. `periods` are consecutive, oldest first, and one longer than the answer: the
 * first one is only the baseline of the second one's change.
 */
export function monthlyTrends(periods: Period[], totals: ReadonlyMap<string, MonthTotals>): TrendMonth[] {
  const result: TrendMonth[] = [];
  for (let i = 1; i < periods.length; i++) {
    const previous = totals.get(periodKey(periods[i - 1])) ?? ZERO;
    const current = totals.get(periodKey(periods[i])) ?? ZERO;
    const delta = current.credits - previous.credits;
    const percent = previous.credits === 0 ? null : Number(new Big(delta).times(100).div(previous.credits).round(2, Big.roundHalfUp).toFixed(2));
    result.push({
      period: periodKey(periods[i]),
      start: periods[i].start.toISOString(),
      end: periods[i].end.toISOString(),
      events: current.events,
      credits: hundredthsToNumber(current.credits),
      overageCredits: hundredthsToNumber(current.overage),
      change: { events: current.events - previous.events, credits: hundredthsToNumber(delta), percent },
    });
  }
  return result;
}
