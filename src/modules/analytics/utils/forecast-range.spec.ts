import { describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import type { ForecastRange } from './forecast-range';
import { forecastRange } from './forecast-range';

const h = (credits: number) => Math.round(credits * 100);

describe('forecastRange', () => {
  // [case, used credits, daily credits of the window, days remaining, expected]
  it.each<[string, number, number[], number, ForecastRange]>([
    ['no data at all: nothing more', 0, [], 30, { rateLow: 0, rateHigh: 0, low: 0, high: 0, method: 'too-few-days' }],
    ['one day of data: from no more usage to twice the rate', 500, [500], 29, { rateLow: 0, rateHigh: 1000, low: 500, high: 29500, method: 'too-few-days' }],
    ['a steady week: no spread, the range is the projection', 700, [100, 100, 100, 100, 100, 100, 100], 10, { rateLow: 100, rateHigh: 100, low: 1700, high: 1700, method: 'standard-error' }],
    // mean 100; sample variance (6 * 100^2 + 600^2) / 6 = 70,000; standard error sqrt(70,000 / 7) = 100
    ['one busy day in seven: rate 100 ± 200, never below 0', 700, [0, 0, 0, 0, 0, 0, 700], 10, { rateLow: 0, rateHigh: 300, low: 700, high: 3700, method: 'standard-error' }],
    // mean 100; variance (4 * 10^2) / 3 = 133.33; standard error sqrt(133.33 / 4) = 5.7735; 1000 + 15.5 * (100 ∓ 11.547)
    ['small day-to-day noise: a narrow range', 1000, [90, 110, 90, 110], 15.5, { rateLow: 88.45, rateHigh: 111.55, low: 2371.02, high: 2728.98, method: 'standard-error' }],
    // mean 15; variance 50; standard error 5
    ['period over: the range is what was used', 1234.56, [10, 20], 0, { rateLow: 5, rateHigh: 25, low: 1234.56, high: 1234.56, method: 'standard-error' }],
    ['net refunds in the window never project backwards', 50, [-20, -20], 5, { rateLow: 0, rateHigh: 0, low: 50, high: 50, method: 'standard-error' }],
  ])('%s', (_case, used, daily, daysRemaining, expected) => {
    expect(forecastRange({ usedCredits: h(used), dailyCredits: daily.map(h), daysRemaining })).toEqual(expected);
  });

  it('always brackets the central projection', () => {
    const daily = [3, 80, 0, 41, 250, 7, 19];
    const rate = daily.reduce((s, d) => s + d, 0) / daily.length;
    const r = forecastRange({ usedCredits: h(400), dailyCredits: daily.map(h), daysRemaining: 12.25 });
    expect(r.rateLow).toBeLessThanOrEqual(rate);
    expect(r.rateHigh).toBeGreaterThanOrEqual(rate);
    expect(r.low).toBeGreaterThanOrEqual(400);
  });
});

describe('forecastRange around a given rate, under a hard cap', () => {
  it('one partial day observed: from no more usage to twice the given rate, not the day total', () => {
    const r = forecastRange({ usedCredits: h(55.3), dailyCredits: [h(55.3)], daysRemaining: 24.4, rate: new Big(55.3).div(0.6) });
    expect(r).toEqual({ rateLow: 0, rateHigh: 184.33, low: 55.3, high: 4553.03, method: 'too-few-days' });
  });

  it('a hard cap bounds both ends, and never below what is used', () => {
    const r = forecastRange({ usedCredits: h(55.3), dailyCredits: [h(55.3)], daysRemaining: 24.4, rate: new Big(55.3).div(0.6), cap: new Big(100) });
    expect(r).toEqual({ rateLow: 0, rateHigh: 184.33, low: 55.3, high: 100, method: 'too-few-days' });
    expect(forecastRange({ usedCredits: h(100), dailyCredits: [h(50), h(50)], daysRemaining: 10, cap: new Big(100) })).toMatchObject({ low: 100, high: 100 });
  });
});
