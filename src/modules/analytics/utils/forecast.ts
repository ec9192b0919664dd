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
  /**
   * Fractional days the window's credits were really observed over, when fewer than `trailingDays` (an
   * organization that began inside the window: its credits of a few hours are not spread over 7 days).
   * Unset, or not fewer: the SPEC's whole-day window. Floored at MIN_OBSERVED_DAYS.
   */
  observedDays?: number | null;
  /** A hard-capped plan (no overage): nothing is consumed past `allowance`, so nothing is projected past it. */
  hardCap?: boolean;
}

/**
 * `reached`: the allowance (hard cap: the cap) is already used up; `projected`: at the rate it runs out on
 * projectedExhaustionDate (today or later, never a past day); `none`: not within the period.
 */
export type ExhaustionState = 'reached' | 'projected' | 'none';

export interface Forecast {
  /** Credits per day, 2 decimals. */
  dailyRate: number;
  /** Credits at period end, 2 decimals. */
  projectedTotal: number;
  /** YYYY-MM-DD (UTC) the allowance runs out; null if not within the period; now's date if already exhausted. */
  projectedExhaustionDate: string | null;
  /** Fractional days from now to period end, 2 decimals. */
  daysRemaining: number;
  exhaustion: ExhaustionState;
  /** Credits the period cannot go past (allowance + top-ups of a hard-capped plan); null when overage is allowed. */
  hardCapCredits: number | null;
  /** `rateDays`: what the window's credits are divided by (the window's days, or fewer when observed for less). */
  basis: { windowDays: number; windowCredits: number; rateDays: number };
}

/** Below an hour of observation a rate says nothing: a first event a minute old would project 1,440 of them a day. */
export const MIN_OBSERVED_DAYS = 1 / 24;

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

/** The rate's divisor: the window's whole days, or the days really observed when fewer (never below an hour). */
export function rateDays(trailingDays: number, observedDays: number | null | undefined): number {
  if (observedDays === null || observedDays === undefined || !Number.isFinite(observedDays) || observedDays >= trailingDays) return trailingDays;
  return Math.max(MIN_OBSERVED_DAYS, observedDays);
}

/**
 * Projects end-of-period consumption from the trailing daily rate (SPEC 7), over the days really observed,
 * and never past a hard cap: a hard-capped plan ends the period at its cap at most, and says when it is
 * reached (or that it was) instead of projecting usage that will be refused.
 */
export function forecastPeriod(input: ForecastInput): Forecast {
  const { period, now, usedCredits, trailingCredits, trailingDays, allowance } = input;
  if (!Number.isInteger(trailingDays) || trailingDays < 1) {
    throw new RangeError(`trailingDays must be a whole number >= 1, got ${trailingDays}`);
  }
  const divisor = rateDays(trailingDays, input.observedDays);
  const startMs = period.start.getTime();
  const endMs = period.end.getTime();
  // Clamped so a forecast asked outside its period never projects negative or extra days.
  const atMs = Math.min(Math.max(now.getTime(), startMs), endMs);

  const rawRate = new Big(trailingCredits).div(100).div(divisor);
  // Net refunds in the window must not project consumption backwards.
  const rate = rawRate.lt(0) ? new Big(0) : rawRate;
  const daysRemaining = new Big(endMs - atMs).div(DAY_MS);
  const used = new Big(usedCredits).div(100);
  const cap = input.hardCap ? new Big(allowance).div(100) : null;
  const projectedTotal = capAt(used.plus(rate.times(daysRemaining)), used, cap);

  const leftHundredths = new Big(allowance).minus(usedCredits);
  let projectedExhaustionDate: string | null = null;
  let exhaustion: ExhaustionState = 'none';
  if (leftHundredths.lte(0)) {
    // Already used up: a fact of the past, not an event to announce (its day is not known here).
    exhaustion = 'reached';
  } else if (rate.gt(0)) {
    // left / rate in one division (no rounded rate in between); ceil so an exact midnight hit stays on its day.
    // From `atMs` (now, clamped into the period): the date is today or later, never a past day.
    const msToExhaustion = leftHundredths.times(divisor).times(DAY_MS).div(trailingCredits);
    const exhaustionMs = atMs + Number(msToExhaustion.round(0, Big.roundUp).toFixed(0));
    if (exhaustionMs < endMs) {
      projectedExhaustionDate = isoDate(new Date(exhaustionMs));
      exhaustion = 'projected';
    }
  }

  return {
    dailyRate: round2(rate),
    projectedTotal: round2(projectedTotal),
    projectedExhaustionDate,
    daysRemaining: round2(daysRemaining),
    exhaustion,
    hardCapCredits: cap === null ? null : round2(cap),
    basis: { windowDays: trailingDays, windowCredits: hundredthsToNumber(trailingCredits), rateDays: Math.round(divisor * 100) / 100 },
  };
}

/** A projection held between what is already used (never less) and the hard cap (never more), when there is one. */
export function capAt(projected: Big, used: Big, cap: Big | null): Big {
  const atMost = cap === null || projected.lte(cap) ? projected : cap;
  return atMost.lt(used) ? used : atMost;
}
