import { describe, expect, it } from '@jest/globals';
import { parsePeriodKey } from '../../../common/time/period';
import { forecastWindow } from './forecast-window';

describe('forecastWindow', () => {
  it.each([
    ['2026-11', '2026-11-15T12:00:00.000Z', '2026-11-09', '2026-11-15', 7],
    ['2026-11', '2026-11-15T00:00:00.000Z', '2026-11-08', '2026-11-14', 7],
    ['2026-11', '2026-11-03T00:00:00.000Z', '2026-11-01', '2026-11-02', 2],
    ['2026-11', '2026-11-03T00:00:00.001Z', '2026-11-01', '2026-11-03', 3],
    ['2026-11', '2026-11-01T06:00:00.000Z', '2026-11-01', '2026-11-01', 1],
    // the first instant: nothing elapsed, an empty window (from > to) and a divisor of 1
    ['2026-11', '2026-11-01T00:00:00.000Z', '2026-11-01', '2026-10-31', 1],
    // leap February: the last day is the 29th
    ['2028-02', '2028-02-29T23:00:00.000Z', '2028-02-23', '2028-02-29', 7],
    // asked after the period ended: its last 7 days
    ['2028-02', '2028-03-10T00:00:00.000Z', '2028-02-23', '2028-02-29', 7],
  ])('%s at %s: %s..%s over %d days', (key, now, from, to, days) => {
    expect(forecastWindow(parsePeriodKey(key), new Date(now))).toEqual({ from, to, days });
  });
});
