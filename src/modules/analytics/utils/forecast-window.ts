import type { Period } from '../../../common/time/period';
import { trailingWindowDays } from './forecast';
import { addDays, dayStart, isoDay, periodStartDay } from './dates';
import type { IsoDay } from './dates';

export interface ForecastWindow {
  /** Inclusive days whose daily rollups make the trailing consumption; empty (from > to) at the period's first instant. */
  from: IsoDay;
  to: IsoDay;
  /** The divisor of the daily rate (forecast.trailingWindowDays). */
  days: number;
}

/**
 * The days of the forecast's trailing window, in whole calendar days because rollups are daily: the
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

export interface Observation {
  /** The first day of the window the rate counts (the window's own first day, or a later one). */
  from: IsoDay;
  /** Fractional days observed when fewer than the window's (see forecastPeriod's observedDays), else null. */
  observedDays: number | null;
}

/**
 * How long the window's credits were really observed. Observation begins with the earlier of the day the
 * organization was created and its first usage day (events may be backdated before creation); when that
 * falls inside the window, the rate divides by the time since then, not by the window's 7 days: a customer
 * that spent 55 credits in its first hours is not at 8 a day. A creation instant after `now` (a clock set
 * back) says nothing and is ignored. Otherwise the whole window counts (the SPEC's rule, unchanged).
 */
export function observation(window: ForecastWindow, now: Date, createdAt: Date | null, firstUsageDay: IsoDay | null): Observation {
  const starts = [firstUsageDay ? dayStart(firstUsageDay).getTime() : Infinity, createdAt && createdAt.getTime() <= now.getTime() ? dayStart(isoDay(createdAt)).getTime() : Infinity];
  const begin = Math.min(...starts);
  if (!Number.isFinite(begin) || begin <= dayStart(window.from).getTime()) return { from: window.from, observedDays: null };
  return { from: isoDay(new Date(begin)), observedDays: Math.max(0, (now.getTime() - begin) / 86_400_000) };
}
