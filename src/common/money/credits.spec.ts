import { describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import fc from 'fast-check';
import {
  hasAtMostTwoDecimals,
  hundredthsFromBig,
  hundredthsFromDecimalString,
  hundredthsFromNumber,
  hundredthsToDecimalString,
  hundredthsToNumber,
  roundUsd,
} from './credits';

describe('credit amounts', () => {
  it.each([
    ['25.00', 2500],
    ['0.29', 29],
    ['-3.5', -350],
    ['100', 10000],
    ['0.00', 0],
  ])('parses numeric %s exactly', (text, hundredths) => {
    expect(hundredthsFromDecimalString(text)).toBe(hundredths);
  });

  it('refuses more than two decimals and garbage', () => {
    expect(() => hundredthsFromDecimalString('1.005')).toThrow(/2 decimals/);
    expect(() => hundredthsFromDecimalString('abc')).toThrow();
    // numeric(18,2) padding like "1.100" is still exact.
    expect(hundredthsFromDecimalString('1.100')).toBe(110);
  });

  it.each([
    [0.29, true],
    [0.1, true],
    [25, true],
    [1.005, false],
    [Number.NaN, false],
    [Infinity, false],
    [1e-7, false],
  ])('hasAtMostTwoDecimals(%p) is %p', (value, expected) => {
    expect(hasAtMostTwoDecimals(value)).toBe(expected);
  });

  it('round-trips numbers without float drift', () => {
    for (const value of [0.01, 0.07, 0.29, 1.15, 99.99, 12345.67]) {
      const h = hundredthsFromNumber(value);
      expect(hundredthsToNumber(h)).toBe(value);
    }
    expect(hundredthsFromNumber(0.1) + hundredthsFromNumber(0.2)).toBe(30);
    expect(hundredthsToDecimalString(30)).toBe('0.30');
  });

  it('rounds half up', () => {
    expect(hundredthsFromBig(new Big('2.345'))).toBe(235);
    expect(hundredthsFromBig(new Big('2.344999'))).toBe(234);
    expect(roundUsd(new Big('0.125'))).toBe(0.13);
    expect(roundUsd(new Big('10.004'))).toBe(10);
  });
});

describe('hundredths to numbers and strings without Big', () => {
  const hundredths = fc.oneof(fc.integer({ min: -10_000_000, max: 10_000_000 }), fc.maxSafeInteger(), fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(0, -0, 5, -5, 99, 100, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER));
  it('hundredthsToNumber equals the Big conversion', () => {
    fc.assert(fc.property(hundredths, (n) => expect(hundredthsToNumber(n)).toBe(Number(new Big(n).div(100).toString()))), { numRuns: 5000 });
  });
  it('hundredthsToDecimalString equals Big toFixed(2)', () => {
    fc.assert(fc.property(hundredths, (n) => expect(hundredthsToDecimalString(n)).toBe(new Big(n).div(100).toFixed(2))), { numRuns: 5000 });
    expect([hundredthsToDecimalString(-5), hundredthsToDecimalString(2500), hundredthsToDecimalString(7)]).toEqual(['-0.05', '25.00', '0.07']);
  });
});
