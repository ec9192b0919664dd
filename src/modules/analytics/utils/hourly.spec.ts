import { describe, expect, it } from '@jest/globals';
import { everyHour } from './hourly';

describe('everyHour', () => {
  const now = new Date('2026-11-15T12:30:00.000Z');
  const rows = [
    { hour: '2026-11-15T00:00:00.000Z', events: 2, credits: 1050, overage: 0 },
    { hour: '2026-11-15T12:00:00.000Z', events: 1, credits: 25, overage: 25 },
  ];
  it.each([
    [0, { hour: '2026-11-15T00:00:00.000Z', events: 2, credits: 10.5, overageCredits: 0, elapsed: true }],
    [1, { hour: '2026-11-15T01:00:00.000Z', events: 0, credits: 0, overageCredits: 0, elapsed: true }],
    [12, { hour: '2026-11-15T12:00:00.000Z', events: 1, credits: 0.25, overageCredits: 0.25, elapsed: true }],
    [13, { hour: '2026-11-15T13:00:00.000Z', events: 0, credits: 0, overageCredits: 0, elapsed: false }],
    [23, { hour: '2026-11-15T23:00:00.000Z', events: 0, credits: 0, overageCredits: 0, elapsed: false }],
  ])('hour %i', (i, expected) => {
    const hours = everyHour('2026-11-15', rows, now);
    expect(hours).toHaveLength(24);
    expect(hours[i]).toEqual(expected);
  });
  it('a past day is elapsed all day', () => {
    expect(everyHour('2026-11-14', [], now).every((h) => h.elapsed)).toBe(true);
  });
});
