import { validationFailed } from '../errors/domain-error';

/** A billing period: one calendar month in UTC, `[start, end)` (docs/configuration-api.md). */
export interface Period {
  start: Date;
  end: Date;
}

const DAY_MS = 86_400_000;
const PERIOD_KEY = /^(\d{4})-(\d{2})$/;

/** Midnight UTC on the 1st of a month; month indexes outside 0..11 roll into other years. */
function monthStart(year: number, monthIndex: number): Date {
  // Not Date.UTC: it maps years 0..99 to 1900..1999.
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, 1);
  return date;
}

function monthPeriod(year: number, monthIndex: number): Period {
  return { start: monthStart(year, monthIndex), end: monthStart(year, monthIndex + 1) };
}

/** The period containing an instant (an instant exactly at a month start belongs to the new month). */
export function periodOf(date: Date): Period {
  if (Number.isNaN(date.getTime())) throw new RangeError('Invalid date');
  return monthPeriod(date.getUTCFullYear(), date.getUTCMonth());
}

/** The period `n` months after `p` (negative `n` goes back). */
export function addMonths(p: Period, n: number): Period {
  if (!Number.isInteger(n)) throw new RangeError(`Not a whole number of months: ${n}`);
  return monthPeriod(p.start.getUTCFullYear(), p.start.getUTCMonth() + n);
}

export function nextPeriod(p: Period): Period {
  return addMonths(p, 1);
}

export function previousPeriod(p: Period): Period {
  return addMonths(p, -1);
}

/** `YYYY-MM`, e.g. `2026-11`. */
export function periodKey(p: Period): string {
  const year = String(p.start.getUTCFullYear()).padStart(4, '0');
  const month = String(p.start.getUTCMonth() + 1).padStart(2, '0');
  return `${year}-${month}`;
}

/** Parses `YYYY-MM`; anything else is a VALIDATION_FAILED on field `period`. */
export function parsePeriodKey(key: string): Period {
  const match = typeof key === 'string' ? PERIOD_KEY.exec(key) : null;
  const month = match ? Number(match[2]) : 0;
  if (!match || month < 1 || month > 12) throw validationFailed({ period: ['period must be YYYY-MM'] });
  return monthPeriod(Number(match[1]), month - 1);
}

/** Periods strictly after `fromExclusive` and strictly before `toExclusive`, oldest first (catch-up of missed month ends). */
export function periodsBetween(fromExclusive: Period, toExclusive: Period): Period[] {
  const result: Period[] = [];
  for (let p = nextPeriod(fromExclusive); p.start.getTime() < toExclusive.start.getTime(); p = nextPeriod(p)) {
    result.push(p);
  }
  return result;
}

/** 28..31: UTC has no DST, so a month is a whole number of days. */
export function daysInPeriod(p: Period): number {
  return Math.round((p.end.getTime() - p.start.getTime()) / DAY_MS);
}

/**
 * A period takes events while `now` is before its end plus the grace window, so the current
 * period (and the next, for an event a few minutes ahead) always does, the previous one during the grace,
 * and nothing older, whether or not the close job has run. The same rule is `period_accepts_events` in SQL,
 * which the debit itself applies; this copy only spares a doomed transaction.
 */
export function periodTakesEvents(period: Period, now: Date, graceMinutes: number): boolean {
  return period.end.getTime() + graceMinutes * 60_000 > now.getTime();
}
