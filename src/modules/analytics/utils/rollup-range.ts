import { nextPeriod, previousPeriod } from '../../../common/time/period';
import { addDays, periodOfDay, periodStartDay } from './dates';
import type { IsoDay } from './dates';

/** Which rollup rows answer an inclusive day range: whole months from the monthly table, the edges from the daily one. */
export interface RollupRangePlan {
  /** `period_start` from..to, inclusive; null when no whole month lies inside the range. */
  monthly: { from: IsoDay; to: IsoDay } | null;
  /** Inclusive day ranges, at most two (before and after the whole months). */
  daily: Array<{ from: IsoDay; to: IsoDay }>;
}

/**
 * Splits `[from, to]` (inclusive days, from <= to) so a year-long breakdown reads 12 monthly groups instead of
 * 365 daily ones. The result covers every day exactly once.
 */
export function planRollupRange(from: IsoDay, to: IsoDay): RollupRangePlan {
  const fromPeriod = periodOfDay(from);
  const firstWhole = from === periodStartDay(fromPeriod) ? fromPeriod : nextPeriod(fromPeriod);
  const toPeriod = periodOfDay(to);
  const lastWhole = addDays(to, 1) === periodStartDay(nextPeriod(toPeriod)) ? toPeriod : previousPeriod(toPeriod);
  if (firstWhole.start.getTime() > lastWhole.start.getTime()) return { monthly: null, daily: [{ from, to }] };
  const daily: RollupRangePlan['daily'] = [];
  const wholeFrom = periodStartDay(firstWhole);
  const afterWhole = periodStartDay(nextPeriod(lastWhole));
  if (from < wholeFrom) daily.push({ from, to: addDays(wholeFrom, -1) });
  if (to >= afterWhole) daily.push({ from: afterWhole, to });
  return { monthly: { from: wholeFrom, to: periodStartDay(lastWhole) }, daily };
}
