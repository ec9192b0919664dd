import Big from 'big.js';
import type { ForecastRange } from '../../../../libs/contracts/src/usage-page.types';
import type { CreditHundredths } from '../../../common/money/credits';
import { capAt } from './forecast';

/** Below this many days in the window a spread of daily values says nothing: the range is stated by rule. */
export const MIN_DAYS_FOR_SPREAD = 2;

export interface ForecastRangeInput {
  usedCredits: CreditHundredths;
  /** Credits of each day of the trailing window, zeros included (today's partial day last). */
  dailyCredits: CreditHundredths[];
  /** Fractional days from now to period end. */
  daysRemaining: number;
  /**
   * The forecast's central rate in credits a day (forecastPeriod's dailyRate before rounding), when it is not
   * the plain mean of `dailyCredits` (days observed for less than a whole day): the range is drawn around it.
   */
  rate?: Big;
  /** A hard cap in credits: neither end projects past it. */
  cap?: Big | null;
}

export type { ForecastRange };

const round2 = (value: Big) => Number(value.round(2, Big.roundHalfUp).toFixed(2));

/**
 * How far the end-of-period projection can honestly be trusted. The central rate is SPEC 7's (the window's
 * credits over its days); the range comes from how much the days of that window differ from each other, so a
 * steady customer gets a narrow range and a bursty one (or one with a day of data) a wide one. Never below
 * what is already used: credits consumed do not come back.
 */
export function forecastRange(input: ForecastRangeInput): ForecastRange {
  const n = input.dailyCredits.length;
  const used = new Big(input.usedCredits).div(100);
  const remaining = new Big(Math.max(0, input.daysRemaining));
  const days = input.dailyCredits.map((d) => new Big(d).div(100));
  const sum = days.reduce((s, d) => s.plus(d), new Big(0));
  const rawMean = n === 0 ? new Big(0) : sum.div(n);
  const central = input.rate ?? rawMean;
  const mean = central.lt(0) ? new Big(0) : central;

  let rateLow: Big;
  let rateHigh: Big;
  let method: ForecastRange['method'];
  if (n < MIN_DAYS_FOR_SPREAD) {
    rateLow = new Big(0);
    rateHigh = mean.times(2);
    method = 'too-few-days';
  } else {
    const variance = days.reduce((s, d) => s.plus(d.minus(rawMean).pow(2)), new Big(0)).div(n - 1);
    const standardError = variance.div(n).sqrt();
    rateLow = mean.minus(standardError.times(2));
    if (rateLow.lt(0)) rateLow = new Big(0);
    rateHigh = mean.plus(standardError.times(2));
    method = 'standard-error';
  }
  return {
    rateLow: round2(rateLow),
    rateHigh: round2(rateHigh),
    low: round2(capAt(used.plus(rateLow.times(remaining)), used, input.cap ?? null)),
    high: round2(capAt(used.plus(rateHigh.times(remaining)), used, input.cap ?? null)),
    method,
  };
}
