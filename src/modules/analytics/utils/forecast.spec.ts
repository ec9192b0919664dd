import { describe, expect, it } from '@jest/globals';
import { parsePeriodKey } from '../../../common/time/period';
import type { Forecast } from './forecast';
import { forecastPeriod, rateDays, trailingWindowDays } from './forecast';

const NOV_2026 = parsePeriodKey('2026-11'); // 30 days
const FEB_2028 = parsePeriodKey('2028-02'); // 29 days

describe('trailingWindowDays', () => {
  it.each([
    ['2026-11-01T00:00:00.000Z', 1], // period just started: at least one day
    ['2026-11-01T00:00:00.001Z', 1],
    ['2026-11-02T00:00:00.000Z', 1],
    ['2026-11-02T00:00:00.001Z', 2],
    ['2026-11-03T12:00:00.000Z', 3],
    ['2026-11-07T00:00:00.000Z', 6],
    ['2026-11-08T00:00:00.000Z', 7],
    ['2026-11-08T00:00:00.001Z', 7],
    ['2026-11-15T00:00:00.000Z', 7],
    ['2026-11-30T23:59:59.999Z', 7],
    ['2026-10-31T12:00:00.000Z', 1], // before the period: still 1
  ])('at %s the window is %i days', (now, days) => {
    expect(trailingWindowDays(NOV_2026, new Date(now))).toBe(days);
  });
});

describe('forecastPeriod', () => {
  // Amounts in the table are credits; the input takes hundredths.
  // The SPEC's whole-day window with overage allowed (hard-cap and observed-days cases are the next table).
  type Core = Omit<Forecast, 'exhaustion' | 'hardCapCredits' | 'basis'> & { basis: Omit<Forecast['basis'], 'rateDays'> };
  it.each<[string, { period?: typeof NOV_2026; now: string; used: number; trailing: number; days: number; allowance: number }, Core]>([
    [
      'Nov 15 00:00, 100/day, allowance already used up: reached, no date announced',
      { now: '2026-11-15T00:00:00.000Z', used: 1500, trailing: 700, days: 7, allowance: 1000 },
      // 16 days remain (Nov 15..30): 1500 + 100 * 16
      { dailyRate: 100, projectedTotal: 3100, projectedExhaustionDate: null, daysRemaining: 16, basis: { windowDays: 7, windowCredits: 700 } },
    ],
    [
      'Nov 15 00:00, 100/day, 500 left: runs out 5 days later',
      { now: '2026-11-15T00:00:00.000Z', used: 1500, trailing: 700, days: 7, allowance: 2000 },
      { dailyRate: 100, projectedTotal: 3100, projectedExhaustionDate: '2026-11-20', daysRemaining: 16, basis: { windowDays: 7, windowCredits: 700 } },
    ],
    [
      'Nov 16 00:00, 100/day: 15 days remain, projected 3000, 500 left runs out Nov 21',
      { now: '2026-11-16T00:00:00.000Z', used: 1500, trailing: 700, days: 7, allowance: 2000 },
      { dailyRate: 100, projectedTotal: 3000, projectedExhaustionDate: '2026-11-21', daysRemaining: 15, basis: { windowDays: 7, windowCredits: 700 } },
    ],
    [
      'runs out exactly at period end: not within the period',
      { now: '2026-11-15T00:00:00.000Z', used: 1500, trailing: 700, days: 7, allowance: 3100 },
      { dailyRate: 100, projectedTotal: 3100, projectedExhaustionDate: null, daysRemaining: 16, basis: { windowDays: 7, windowCredits: 700 } },
    ],
    [
      'runs out 0.01 credit before period end: last day',
      { now: '2026-11-15T00:00:00.000Z', used: 1500, trailing: 700, days: 7, allowance: 3099.99 },
      { dailyRate: 100, projectedTotal: 3100, projectedExhaustionDate: '2026-11-30', daysRemaining: 16, basis: { windowDays: 7, windowCredits: 700 } },
    ],
    [
      'zero usage: rate 0, projected = used, never runs out',
      { now: '2026-11-15T00:00:00.000Z', used: 1500, trailing: 0, days: 7, allowance: 2000 },
      { dailyRate: 0, projectedTotal: 1500, projectedExhaustionDate: null, daysRemaining: 16, basis: { windowDays: 7, windowCredits: 0 } },
    ],
    [
      'used exactly the allowance with no recent usage: reached',
      { now: '2026-11-15T09:30:00.000Z', used: 1000, trailing: 0, days: 7, allowance: 1000 },
      // Nov 15 09:30 -> Dec 1 00:00 = 15 days 14.5 h = 15.6041666...
      { dailyRate: 0, projectedTotal: 1000, projectedExhaustionDate: null, daysRemaining: 15.6, basis: { windowDays: 7, windowCredits: 0 } },
    ],
    [
      'short window early in the period, non-terminating rate',
      { now: '2026-11-03T12:00:00.000Z', used: 250, trailing: 250, days: 3, allowance: 1000 },
      // rate 250/3 = 83.333..; 27.5 days remain: 250 + 6875/3 = 2541.666..; 750 left / (250/3) = 9 days -> Nov 12 12:00
      { dailyRate: 83.33, projectedTotal: 2541.67, projectedExhaustionDate: '2026-11-12', daysRemaining: 27.5, basis: { windowDays: 3, windowCredits: 250 } },
    ],
    [
      'first instant of the period',
      { now: '2026-11-01T00:00:00.000Z', used: 0, trailing: 0, days: 1, allowance: 1000 },
      { dailyRate: 0, projectedTotal: 0, projectedExhaustionDate: null, daysRemaining: 30, basis: { windowDays: 1, windowCredits: 0 } },
    ],
    [
      'leap February 2028',
      { period: FEB_2028, now: '2028-02-10T06:00:00.000Z', used: 200, trailing: 70, days: 7, allowance: 300 },
      // Feb 10 06:00 -> Mar 1 00:00 = 19.75 days: 200 + 10 * 19.75; 100 left at 10/day -> Feb 20 06:00
      { dailyRate: 10, projectedTotal: 397.5, projectedExhaustionDate: '2028-02-20', daysRemaining: 19.75, basis: { windowDays: 7, windowCredits: 70 } },
    ],
    [
      'fractional credits',
      { now: '2026-11-29T00:00:00.000Z', used: 987.65, trailing: 12.34, days: 7, allowance: 1000 },
      // 12.34 / 7 = 1.762857..; 2 days remain: 987.65 + 3.525714.. = 991.175714.. -> 991.18
      { dailyRate: 1.76, projectedTotal: 991.18, projectedExhaustionDate: null, daysRemaining: 2, basis: { windowDays: 7, windowCredits: 12.34 } },
    ],
    [
      'now after period end: nothing remains to project',
      { now: '2026-12-03T00:00:00.000Z', used: 1500, trailing: 700, days: 7, allowance: 2000 },
      { dailyRate: 100, projectedTotal: 1500, projectedExhaustionDate: null, daysRemaining: 0, basis: { windowDays: 7, windowCredits: 700 } },
    ],
    [
      'net refunds in the window do not project backwards',
      { now: '2026-11-15T00:00:00.000Z', used: 500, trailing: -70, days: 7, allowance: 1000 },
      { dailyRate: 0, projectedTotal: 500, projectedExhaustionDate: null, daysRemaining: 16, basis: { windowDays: 7, windowCredits: -70 } },
    ],
  ])('%s', (_name, row, expected) => {
    const forecast = forecastPeriod({
      period: row.period ?? NOV_2026,
      now: new Date(row.now),
      usedCredits: Math.round(row.used * 100),
      trailingCredits: Math.round(row.trailing * 100),
      trailingDays: row.days,
      allowance: Math.round(row.allowance * 100),
    });
    expect(forecast).toMatchObject(expected);
    // Without a hard cap and with the whole window observed: the window's days divide, nothing is capped.
    expect(forecast.hardCapCredits).toBeNull();
    expect(forecast.basis.rateDays).toBe(row.days);
    expect(forecast.exhaustion).toBe(forecast.projectedExhaustionDate ? 'projected' : row.used >= row.allowance ? 'reached' : 'none');
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects trailingDays %p', (days) => {
    const input = { period: NOV_2026, now: new Date('2026-11-15T00:00:00.000Z'), usedCredits: 0, trailingCredits: 0, trailingDays: days, allowance: 0 };
    expect(() => forecastPeriod(input)).toThrow(RangeError);
  });
});

describe('forecastPeriod: the days really observed, and a hard cap', () => {
  const DEC_2026 = parsePeriodKey('2026-12'); // 31 days
  // Dec 7 14:24 UTC: 0.6 of a day since midnight, 24.4 days to Jan 1.
  const NOW = '2026-12-07T14:24:00.000Z';
  it.each<[string, { now?: string; used: number; trailing: number; days?: number; allowance: number; observedDays?: number | null; hardCap: boolean }, Partial<Forecast>]>([
    [
      // The free organization of the report: 55.30 credits in its first 0.6 days, hard cap 100.
      'a new free organization: ~92 a day over the 0.6 days observed, capped at 100, reached tomorrow at that rate',
      { used: 55.3, trailing: 55.3, allowance: 100, observedDays: 0.6, hardCap: true },
      // 55.30 / 0.6 = 92.1666..; 44.70 left / 92.1666.. = 0.485 days (11 h 38 min) after 14:24: Dec 8.
      { dailyRate: 92.17, projectedTotal: 100, projectedExhaustionDate: '2026-12-08', exhaustion: 'projected', hardCapCredits: 100, daysRemaining: 24.4, basis: { windowDays: 7, windowCredits: 55.3, rateDays: 0.6 } },
    ],
    [
      'the same usage spread over the whole window (the old divisor) still never projects past the cap',
      { used: 55.3, trailing: 55.3, allowance: 100, hardCap: true },
      // 55.30 / 7 = 7.9 a day: 248.06 uncapped; 44.70 / 7.9 = 5.66 days: Dec 13.
      { dailyRate: 7.9, projectedTotal: 100, projectedExhaustionDate: '2026-12-13', exhaustion: 'projected', hardCapCredits: 100, basis: { windowDays: 7, windowCredits: 55.3, rateDays: 7 } },
    ],
    [
      'a free organization that already ran out: reached, no date, the period ends at the cap',
      { used: 100, trailing: 100, allowance: 100, observedDays: 0.6, hardCap: true },
      { dailyRate: 166.67, projectedTotal: 100, projectedExhaustionDate: null, exhaustion: 'reached', hardCapCredits: 100 },
    ],
    [
      'hard cap with top-ups: the cap is the allowance and the top-ups',
      { used: 120, trailing: 70, allowance: 150, hardCap: true },
      // 10 a day: 120 + 244 uncapped -> 150; 30 left at 10 a day = 3 days: Dec 10 14:24.
      { dailyRate: 10, projectedTotal: 150, projectedExhaustionDate: '2026-12-10', exhaustion: 'projected', hardCapCredits: 150 },
    ],
    [
      'hard cap that the rate does not reach: the plain projection',
      { used: 10, trailing: 7, allowance: 100, hardCap: true },
      { dailyRate: 1, projectedTotal: 34.4, projectedExhaustionDate: null, exhaustion: 'none', hardCapCredits: 100 },
    ],
    [
      'overage allowed and the allowance used up: reached, and the projection goes on past it',
      { used: 1200, trailing: 700, allowance: 1000, hardCap: false },
      { dailyRate: 100, projectedTotal: 3640, projectedExhaustionDate: null, exhaustion: 'reached', hardCapCredits: null },
    ],
    [
      'ten minutes observed: the divisor is floored at an hour',
      { used: 5, trailing: 5, allowance: 1000, observedDays: 10 / 1440, hardCap: false },
      // 5 credits an hour = 120 a day.
      { dailyRate: 120, basis: { windowDays: 7, windowCredits: 5, rateDays: 0.04 } },
    ],
    [
      'observed for longer than the window: the window counts (the SPEC rule)',
      { used: 700, trailing: 700, allowance: 5000, observedDays: 12.5, hardCap: false },
      { dailyRate: 100, basis: { windowDays: 7, windowCredits: 700, rateDays: 7 } },
    ],
    [
      'a short window early in the period, observed for less (first usage on day 2 of 3)',
      { now: '2026-12-03T12:00:00.000Z', used: 150, trailing: 150, days: 3, allowance: 1000, observedDays: 1.5, hardCap: false },
      { dailyRate: 100, projectedExhaustionDate: '2026-12-12', exhaustion: 'projected', basis: { windowDays: 3, windowCredits: 150, rateDays: 1.5 } },
    ],
  ])('%s', (_name, row, expected) => {
    const now = new Date(row.now ?? NOW);
    const forecast = forecastPeriod({
      period: DEC_2026,
      now,
      usedCredits: Math.round(row.used * 100),
      trailingCredits: Math.round(row.trailing * 100),
      trailingDays: row.days ?? 7,
      allowance: Math.round(row.allowance * 100),
      observedDays: row.observedDays,
      hardCap: row.hardCap,
    });
    expect(forecast).toMatchObject(expected);
    // Never a past day as a future event, never past a hard cap, never below what is used.
    if (forecast.projectedExhaustionDate) expect(forecast.projectedExhaustionDate >= now.toISOString().slice(0, 10)).toBe(true);
    if (forecast.hardCapCredits !== null) expect(forecast.projectedTotal).toBeLessThanOrEqual(Math.max(forecast.hardCapCredits, row.used));
    expect(forecast.projectedTotal).toBeGreaterThanOrEqual(row.used);
  });

  it.each([
    [7, null, 7],
    [7, undefined, 7],
    [7, 7, 7],
    [7, 9, 7],
    [7, 0.6, 0.6],
    [3, 0, 1 / 24],
    [7, Number.NaN, 7],
  ])('rateDays(%p, %p) = %p', (days, observed, expected) => {
    expect(rateDays(days, observed)).toBeCloseTo(expected, 10);
  });
});
