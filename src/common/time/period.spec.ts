import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../errors/domain-error';
import {
  addMonths,
  daysInPeriod,
  nextPeriod,
  parsePeriodKey,
  periodKey,
  periodOf,
  periodsBetween,
  previousPeriod,
} from './period';

const iso = (d: Date) => d.toISOString();

describe('periodOf', () => {
  it.each([
    ['2026-11-15T12:00:00.000Z', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
    ['2026-01-31T23:59:59.999Z', '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
    ['2026-12-31T23:59:59.999Z', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    // The boundary instant opens the new period; the millisecond before it closes the old one.
    ['2026-12-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['2026-11-30T23:59:59.999Z', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
    ['2027-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z'],
    ['2024-02-29T10:00:00.000Z', '2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
    // An offset timestamp is still bucketed by its UTC instant.
    ['2026-11-30T20:00:00.000-05:00', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['2026-12-01T01:00:00.000+02:00', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
  ])('%s is in [%s, %s)', (at, start, end) => {
    const p = periodOf(new Date(at));
    expect([iso(p.start), iso(p.end)]).toEqual([start, end]);
  });

  it('rejects an invalid date', () => {
    expect(() => periodOf(new Date('nope'))).toThrow(RangeError);
  });
});

describe('daysInPeriod', () => {
  it.each([
    ['2026-01', 31],
    ['2026-02', 28],
    ['2026-04', 30],
    ['2026-11', 30],
    ['2026-12', 31],
    ['2024-02', 29],
    ['2028-02', 29],
    ['2100-02', 28], // divisible by 100, not by 400
    ['2000-02', 29], // divisible by 400
    ['1900-02', 28],
  ])('%s has %i days', (key, days) => {
    expect(daysInPeriod(parsePeriodKey(key))).toBe(days);
  });
});

describe('next, previous and addMonths', () => {
  it.each([
    ['2026-11', '2026-12', '2026-10'],
    ['2026-12', '2027-01', '2026-11'],
    ['2027-01', '2027-02', '2026-12'],
    ['2024-02', '2024-03', '2024-01'],
  ])('around %s: next %s, previous %s', (key, next, previous) => {
    const p = parsePeriodKey(key);
    expect(periodKey(nextPeriod(p))).toBe(next);
    expect(periodKey(previousPeriod(p))).toBe(previous);
    expect(nextPeriod(p).start).toEqual(p.end);
    expect(previousPeriod(p).end).toEqual(p.start);
  });

  it.each([
    ['2026-11', 0, '2026-11'],
    ['2026-11', 2, '2027-01'],
    ['2026-11', 14, '2028-01'],
    ['2026-01', -1, '2025-12'],
    ['2026-03', -13, '2025-02'],
    ['2028-02', 12, '2029-02'],
  ])('%s + %i months is %s', (key, n, expected) => {
    expect(periodKey(addMonths(parsePeriodKey(key), n))).toBe(expected);
  });

  it('rejects a fractional month count', () => {
    expect(() => addMonths(parsePeriodKey('2026-11'), 1.5)).toThrow(RangeError);
  });
});

describe('periodKey and parsePeriodKey', () => {
  it.each([
    ['2026-11', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
    ['2026-12', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['2026-01', '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
    ['0050-06', '0050-06-01T00:00:00.000Z', '0050-07-01T00:00:00.000Z'], // no 19xx remapping
  ])('parses %s and formats it back', (key, start, end) => {
    const p = parsePeriodKey(key);
    expect([iso(p.start), iso(p.end)]).toEqual([start, end]);
    expect(periodKey(p)).toBe(key);
  });

  it('keys the period of an instant', () => {
    expect(periodKey(periodOf(new Date('2026-11-30T23:59:59.999Z')))).toBe('2026-11');
    expect(periodKey(periodOf(new Date('2026-12-01T00:00:00.000Z')))).toBe('2026-12');
  });

  it.each(['2026-13', '2026-00', '26-1', '2026-1', '', '2026-11-01', ' 2026-11', '2026-11 ', '2026/11', 'abcd-ef', '+2026-11'])(
    'rejects %p as VALIDATION_FAILED on period',
    (key) => {
      let error: unknown;
      try {
        parsePeriodKey(key);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('VALIDATION_FAILED');
      expect((error as DomainError).details).toEqual({ fields: { period: ['period must be YYYY-MM'] } });
    },
  );
});

describe('periodsBetween', () => {
  it.each([
    ['2026-09', '2026-12', ['2026-10', '2026-11']],
    ['2026-11', '2027-03', ['2026-12', '2027-01', '2027-02']],
    ['2026-11', '2026-12', []], // adjacent: nothing missed
    ['2026-11', '2026-11', []],
    ['2026-12', '2026-11', []], // reversed
    ['2023-12', '2024-04', ['2024-01', '2024-02', '2024-03']],
  ])('between %s and %s: %j', (from, to, expected) => {
    const result = periodsBetween(parsePeriodKey(from), parsePeriodKey(to));
    expect(result.map(periodKey)).toEqual(expected);
  });

  it('returns contiguous periods', () => {
    const result = periodsBetween(parsePeriodKey('2025-10'), parsePeriodKey('2027-02'));
    expect(result).toHaveLength(15);
    for (let i = 1; i < result.length; i++) expect(result[i].start).toEqual(result[i - 1].end);
  });
});
