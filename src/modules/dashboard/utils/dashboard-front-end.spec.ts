import { describe, expect, it } from '@jest/globals';
// The dashboard's pure helpers live with its browser code (dashboard/src); they are tested here, where the
// unit project runs, because they compute what the page shows.
import { buildChartData } from '../../../../dashboard/src/chart-series';
import { formatCreditAmount, formatCredits, formatPercent, formatPeriodLastDay, formatUsd, wholeDaysLeft } from '../../../../dashboard/src/format';

describe('dashboard chart data', () => {
  const base = {
    periodStart: '2026-11-01T00:00:00.000Z',
    periodEnd: '2026-12-01T00:00:00.000Z',
    allowance: 1000,
    topUps: 0,
  };

  it('accumulates daily credits up to today and projects from today to the period end', () => {
    const data = buildChartData({
      ...base,
      days: [
        { day: '2026-11-01', credits: 10.5 },
        { day: '2026-11-03', credits: 20.25 },
        { day: '2026-11-04', credits: 5 },
      ],
      forecast: { asOf: '2026-11-04T12:00:00.000Z', usedCredits: 35.75, dailyRate: 10, projectedTotal: 300.75, projectedExhaustionDate: null },
    });
    expect(data.x).toHaveLength(30);
    expect(data.labels[0]).toBe('2026-11-01');
    expect(data.labels[29]).toBe('2026-11-30');
    expect(data.todayIndex).toBe(3);
    expect(data.cumulative.slice(0, 5)).toEqual([10.5, 10.5, 30.75, 35.75, null]);
    expect(data.daily.slice(0, 5)).toEqual([10.5, 0, 20.25, 5, null]);
    expect(data.forecast.slice(0, 3)).toEqual([null, null, null]);
    // Today: the used credits; the next day: used + rate x the time from now to that day's end (1.5 days).
    expect(data.forecast[3]).toBe(35.75);
    expect(data.forecast[4]).toBe(50.75);
    // The last point is the API's projection exactly.
    expect(data.forecast[29]).toBe(300.75);
    expect(data.allowance.every((a) => a === 1000)).toBe(true);
    expect(data.allowancePlusTopUps).toBeNull();
    expect(data.exhaustionX).toBeNull();
  });

  it('marks the exhaustion day inside the period and draws allowance plus top-ups', () => {
    const data = buildChartData({
      ...base,
      topUps: 250,
      days: [],
      forecast: { asOf: '2026-11-10T00:00:00.000Z', usedCredits: 0, dailyRate: 0, projectedTotal: 0, projectedExhaustionDate: '2026-11-20' },
    });
    expect(data.exhaustionX).toBe(Date.parse('2026-11-20T00:00:00Z') / 1000);
    expect(data.allowancePlusTopUps?.[0]).toBe(1250);
    expect(buildChartData({ ...base, days: [], forecast: { asOf: '2026-11-10T00:00:00.000Z', usedCredits: 0, dailyRate: 0, projectedTotal: 0, projectedExhaustionDate: '2026-12-03' } }).exhaustionX).toBeNull();
  });

  it('never draws a hard-capped forecast past its cap', () => {
    // Dec 7 14:24, 55.30 used at 92.17 a day on a plan capped at 100.
    const data = buildChartData({
      ...base,
      periodStart: '2026-12-01T00:00:00.000Z',
      periodEnd: '2027-01-01T00:00:00.000Z',
      allowance: 100,
      days: [{ day: '2026-12-07', credits: 55.3 }],
      forecast: { asOf: '2026-12-07T14:24:00.000Z', usedCredits: 55.3, dailyRate: 92.17, projectedTotal: 100, projectedExhaustionDate: '2026-12-08', hardCapCredits: 100, range: { rateLow: 0, rateHigh: 184.33, low: 55.3, high: 100 } },
    });
    for (const line of [data.forecast, data.forecastHigh]) expect(Math.max(...line.filter((v): v is number => v !== null))).toBe(100);
    expect(Math.max(...data.forecastLow.filter((v): v is number => v !== null))).toBe(55.3);
    expect(data.forecast[6]).toBe(55.3);
    expect(data.forecast[7]).toBe(100);
  });

  it('clamps a forecast taken after the period to its last day', () => {
    const data = buildChartData({ ...base, days: [{ day: '2026-11-30', credits: 4 }], forecast: { asOf: '2026-12-01T00:30:00.000Z', usedCredits: 4, dailyRate: 1, projectedTotal: 4, projectedExhaustionDate: null } });
    expect(data.todayIndex).toBe(29);
    expect(data.cumulative[29]).toBe(4);
  });
});

describe('dashboard formatting', () => {
  it.each([
    [0, '0.00'],
    [1145.6, '1,145.60'],
    [0.005, '0.01'],
  ])('credits %p -> %p', (value, text) => expect(formatCredits(value)).toBe(text));

  it('formats money, percentages, days and periods', () => {
    expect(formatUsd(2.91)).toBe('$2.91');
    expect(formatUsd(null)).toBe('–');
    expect(formatPercent(114.56)).toBe('115%');
    expect(formatPercent(42.5)).toBe('42.5%');
    expect(wholeDaysLeft(2.92)).toBe(3);
    expect(wholeDaysLeft(3)).toBe(3);
    expect(wholeDaysLeft(0)).toBe(0);
    expect(formatPeriodLastDay('2026-12-01T00:00:00.000Z')).toBe('Nov 30, 2026');
  });
});

describe('exact credit strings (runs)', () => {
  it.each<[string | null, string]>([
    ['0', '0.00'],
    ['20', '20.00'],
    ['1.028', '1.028'],
    ['1.5', '1.50'],
    ['0.000001', '0.000001'],
    ['1234567.120000', '1,234,567.12'],
    // The largest budget a run may have, and one micro-credit under it: never rounded through a float.
    ['10000000000', '10,000,000,000.00'],
    ['9999999999.999999', '9,999,999,999.999999'],
    ['007.10', '7.10'],
    [null, '–'],
    ['not a number', 'not a number'],
  ])('%p -> %p', (value, text) => expect(formatCreditAmount(value)).toBe(text));
});
