import { describe, expect, it } from '@jest/globals';
import { parsePeriodKey } from '../../../common/time/period';
import { forecastWindow, observation } from './forecast-window';

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

describe('observation', () => {
  const DEC = parsePeriodKey('2026-12');
  const NOW = new Date('2026-12-07T14:24:00.000Z');
  const window = forecastWindow(DEC, NOW); // Dec 1..7
  it.each<[string, string | null, string | null, { from: string; observedDays: number | null }]>([
    ['created today and first usage today: 0.6 days observed', '2026-12-07T13:00:00.000Z', '2026-12-07', { from: '2026-12-07', observedDays: 0.6 }],
    ['created long ago, idle until yesterday: the whole window (idle days are observations too)', '2025-01-01T00:00:00.000Z', '2026-12-06', { from: '2026-12-01', observedDays: null }],
    ['events backdated before creation: observation starts with the first usage', '2026-12-07T13:00:00.000Z', '2026-12-02', { from: '2026-12-02', observedDays: 5.6 }],
    ['created on day 3, first usage day 5: from creation', '2026-12-03T09:00:00.000Z', '2026-12-05', { from: '2026-12-03', observedDays: 4.6 }],
    ['created inside the window, no usage yet: from creation', '2026-12-06T09:00:00.000Z', null, { from: '2026-12-06', observedDays: 1.6 }],
    ['a creation instant after now (clock set back) says nothing', '2027-03-01T00:00:00.000Z', null, { from: '2026-12-01', observedDays: null }],
    ['nothing known: the whole window', null, null, { from: '2026-12-01', observedDays: null }],
  ])('%s', (_case, created, first, expected) => {
    const o = observation(window, NOW, created ? new Date(created) : null, first);
    expect(o.from).toBe(expected.from);
    if (expected.observedDays === null) expect(o.observedDays).toBeNull();
    else expect(o.observedDays).toBeCloseTo(expected.observedDays, 10);
  });
});
