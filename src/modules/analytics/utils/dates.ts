import { periodOf } from '../../../common/time/period';
import type { Period } from '../../../common/time/period';

/**
 * Calendar days in UTC as `YYYY-MM-DD` strings: what rollups are keyed by, and what SQL `date` columns
 * come back as (the pg type parser keeps them strings).
 */
export type IsoDay = string;

const DAY_MS = 86_400_000;
const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The UTC day of an instant. */
export function isoDay(date: Date): IsoDay {
  return date.toISOString().slice(0, 10);
}

/** A period's first day, the key of `period_start` columns. */
export function periodStartDay(period: Period): IsoDay {
  return isoDay(period.start);
}

/** Midnight UTC of a day. */
export function dayStart(day: IsoDay): Date {
  return new Date(`${day}T00:00:00.000Z`);
}

export function addDays(day: IsoDay, n: number): IsoDay {
  return isoDay(new Date(dayStart(day).getTime() + n * DAY_MS));
}

/** Whole days from `a` to `b` (b - a). */
export function daysBetween(a: IsoDay, b: IsoDay): number {
  return Math.round((dayStart(b).getTime() - dayStart(a).getTime()) / DAY_MS);
}

/** The period a day belongs to. */
export function periodOfDay(day: IsoDay): Period {
  return periodOf(dayStart(day));
}

/** True for a real calendar day `YYYY-MM-DD` (2028-02-29 yes, 2027-02-29 no). */
export function isIsoDay(value: string): boolean {
  const match = ISO_DAY.exec(value);
  if (!match) return false;
  const date = dayStart(value);
  return !Number.isNaN(date.getTime()) && isoDay(date) === value;
}
