// The daily usage chart's data, computed without the DOM (tests import it): one point per UTC day of the
// period. Solid line: credits used through each day so far; dashed: the forecast from now to period end
// at the trailing daily rate (ending exactly at the API's projectedTotal); bars: credits per day.

import type { Forecast } from './types';

const DAY_MS = 86_400_000;

export interface ChartInput {
  periodStart: string;
  periodEnd: string;
  /** Day breakdown items, "YYYY-MM-DD" with the day's credits. */
  days: { day: string; credits: number }[];
  allowance: number;
  /** Top-ups available on top of the allowance (0 draws no second line). */
  topUps: number;
  forecast: Pick<Forecast, 'asOf' | 'usedCredits' | 'dailyRate' | 'projectedTotal' | 'projectedExhaustionDate'> & Partial<Pick<Forecast, 'hardCapCredits'>> & { range?: Pick<Forecast['range'], 'rateLow' | 'rateHigh' | 'low' | 'high'> };
}

export interface ChartData {
  /** Unix seconds at 00:00 UTC of each day of the period. */
  x: number[];
  labels: string[];
  daily: (number | null)[];
  cumulative: (number | null)[];
  forecast: (number | null)[];
  /** The forecast range's low and high ends from today to period end (null before today). */
  forecastLow: (number | null)[];
  forecastHigh: (number | null)[];
  allowance: number[];
  allowancePlusTopUps: number[] | null;
  /** Unix seconds of the projected exhaustion day, when it falls in the period. */
  exhaustionX: number | null;
  /** Index of today's (asOf's) day in x. */
  todayIndex: number;
}

const round2 = (value: number) => Math.round(value * 100) / 100;

export function buildChartData(input: ChartInput): ChartData {
  const start = Date.parse(input.periodStart);
  const end = Date.parse(input.periodEnd);
  const asOf = Math.min(Math.max(Date.parse(input.forecast.asOf), start), end - 1);
  const byDay = new Map(input.days.map((d) => [d.day, d.credits]));
  const dayCount = Math.round((end - start) / DAY_MS);
  const todayIndex = Math.floor((asOf - start) / DAY_MS);

  const x: number[] = [];
  const labels: string[] = [];
  const daily: (number | null)[] = [];
  const cumulative: (number | null)[] = [];
  const forecast: (number | null)[] = [];
  const forecastLow: (number | null)[] = [];
  const forecastHigh: (number | null)[] = [];
  const range = input.forecast.range;
  // A hard-capped plan's lines stop at the cap: usage past it is refused, never projected.
  const cap = input.forecast.hardCapCredits ?? null;
  const capped = (value: number) => (cap !== null && value > cap ? Math.max(cap, input.forecast.usedCredits) : value);
  let running = 0;
  for (let i = 0; i < dayCount; i++) {
    const dayStart = start + i * DAY_MS;
    const label = new Date(dayStart).toISOString().slice(0, 10);
    x.push(dayStart / 1000);
    labels.push(label);
    if (i <= todayIndex) {
      const credits = byDay.get(label) ?? 0;
      running = round2(running + credits);
      daily.push(credits);
      cumulative.push(running);
    } else {
      daily.push(null);
      cumulative.push(null);
    }
    if (i < todayIndex) forecast.push(null);
    else if (i === todayIndex) forecast.push(input.forecast.usedCredits);
    else if (i === dayCount - 1) forecast.push(input.forecast.projectedTotal);
    else forecast.push(capped(round2(input.forecast.usedCredits + (input.forecast.dailyRate * (dayStart + DAY_MS - asOf)) / DAY_MS)));
    const along = (rate: number, end: number) => {
      if (i < todayIndex) return null;
      if (i === todayIndex) return input.forecast.usedCredits;
      if (i === dayCount - 1) return end;
      return capped(round2(input.forecast.usedCredits + (rate * (dayStart + DAY_MS - asOf)) / DAY_MS));
    };
    forecastLow.push(range ? along(range.rateLow, range.low) : null);
    forecastHigh.push(range ? along(range.rateHigh, range.high) : null);
  }
  const exhaustion = input.forecast.projectedExhaustionDate ? Date.parse(`${input.forecast.projectedExhaustionDate}T00:00:00Z`) : NaN;
  return {
    x,
    labels,
    daily,
    cumulative,
    forecast,
    forecastLow,
    forecastHigh,
    allowance: x.map(() => input.allowance),
    allowancePlusTopUps: input.topUps > 0 ? x.map(() => round2(input.allowance + input.topUps)) : null,
    exhaustionX: Number.isFinite(exhaustion) && exhaustion >= start && exhaustion < end ? exhaustion / 1000 : null,
    todayIndex,
  };
}
