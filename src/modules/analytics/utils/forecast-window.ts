import type { Period } from '../../../common/time/period';
import { trailingWindowDays } from './forecast';
import { addDays, isoDay, periodStartDay } from './dates';
import type { IsoDay } from './dates';

export interface ForecastWindow {
  /** Inclusive days whose daily rollups make the trailing consumption; empty (from > to) at the period's first instant. */
  from: IsoDay;
  to: IsoDay;
  /** The divisor of the daily rate (forecast.trailingWindowDays). */
  days: number;
}

/**
 * The days of SPEC section 7's trailing window, in whole calendar days because rollups are daily: the
 * `days` days ending with the day of the last elapsed instant (today, partial; yesterday at exact midnight),
 * never before the period start. So on Nov 15 at noon the window is Nov 9..15; on Nov 3 at 00:00 it is
 * Nov 1..2 (2 elapsed days).
 */
export function forecastWindow(period: Period, now: Date): ForecastWindow {
  const days = trailingWindowDays(period, now);
  const periodFrom = periodStartDay(period);
  const clamped = Math.min(Math.max(now.getTime(), period.start.getTime()), period.end.getTime());
  const to = isoDay(new Date(clamped - 1));
  const from = addDays(to, -(days - 1));
  return { from: from < periodFrom ? periodFrom : from, to, days };
}
