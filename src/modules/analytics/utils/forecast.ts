import Big from 'big.js';
import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsToNumber } from '../../../common/money/credits';
import type { Period } from '../../../common/time/period';

const DAY_MS = 86_400_000;
const TRAILING_WINDOW_MAX_DAYS = 7;

export interface ForecastInput {
  period: Period;
  now: Date;
  usedCredits: CreditHundredths;
  /** Consumed in the trailing window. */
  trailingCredits: CreditHundredths;
  /** Whole days >= 1: 7, or days since period start when shorter (see trailingWindowDays). */
  trailingDays: number;
  /** Allowance + top-ups available at period start: what can be consumed before exhaustion. */
  allowance: CreditHundredths;
}

export interface Forecast {
  /** Credits per day, 2 decimals. */
  dailyRate: number;
  /** Credits at period end, 2 decimals. */
  projectedTotal: number;
  /** YYYY-MM-DD (UTC) the allowance runs out; null if not within the period; now's date if already exhausted. */
  projectedExhaustionDate: string | null;
  /** Fractional days from now to period end, 2 decimals. */
  daysRemaining: number;
  basis: { windowDays: number; windowCredits: number };
}

function round2(value: Big): number {
  return Number(value.round(2, Big.roundHalfUp).toFixed(2));
}

function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** SPEC 7: the last 7 days, or the days elapsed since period start (rounded up) when fewer; at least 1. */
export function trailingWindowDays(period: Period, now: Date): number {
  const elapsedDays = (now.getTime() - period.start.getTime()) / DAY_MS;
  return Math.max(1, Math.min(TRAILING_WINDOW_MAX_DAYS, Math.ceil(elapsedDays)));
}

/** Projects end-of-period consumption from the trailing daily rate (SPEC 7). */
export function forecastPeriod(input: ForecastInput): Forecast {
  const { period, now, usedCredits, trailingCredits, trailingDays, allowance } = input;
  if (!Number.isInteger(trailingDays) || trailingDays < 1) {
    throw new RangeError(`trailingDays must be a whole number >= 1, got ${trailingDays}`);
  }
  const startMs = period.start.getTime();
  const endMs = period.end.getTime();
  // Clamped so a forecast asked outside its period never projects negative or extra days.
  const atMs = Math.min(Math.max(now.getTime(), startMs), endMs);

  const rawRate = new Big(trailingCredits).div(100).div(trailingDays);
  // Net refunds in the window must not project consumption backwards.
  const rate = rawRate.lt(0) ? new Big(0) : rawRate;
  const daysRemaining = new Big(endMs - atMs).div(DAY_MS);
  const used = new Big(usedCredits).div(100);
  const projectedTotal = used.plus(rate.times(daysRemaining));

  const leftHundredths = new Big(allowance).minus(usedCredits);
  let projectedExhaustionDate: string | null = null;
  if (leftHundredths.lte(0)) {
    projectedExhaustionDate = isoDate(now);
  } else if (rate.gt(0)) {
    // left / rate in one division (no rounded rate in between); ceil so an exact midnight hit stays on its day.
    const msToExhaustion = leftHundredths.times(trailingDays).times(DAY_MS).div(trailingCredits);
    const exhaustionMs = atMs + Number(msToExhaustion.round(0, Big.roundUp).toFixed(0));
    if (exhaustionMs < endMs) projectedExhaustionDate = isoDate(new Date(exhaustionMs));
  }

  return {
    dailyRate: round2(rate),
    projectedTotal: round2(projectedTotal),
    projectedExhaustionDate,
    daysRemaining: round2(daysRemaining),
    basis: { windowDays: trailingDays, windowCredits: hundredthsToNumber(trailingCredits) },
  };
}
