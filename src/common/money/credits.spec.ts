import { describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import fc from 'fast-check';
import {
  hasAtMostTwoDecimals,
  hundredthsFromBig,
  hundredthsFromDecimalString,
  hundredthsFromMicros,
  hundredthsFromNumber,
  microsFromDecimalString,
  microsToDecimalString,
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

  it('rounds a ledger amount (up to 6 decimals) half-up to hundredths, once, and refuses garbage', () => {
    expect(hundredthsFromDecimalString('1.005')).toBe(101);
    expect(hundredthsFromDecimalString('0.004900')).toBe(0);
    expect(hundredthsFromDecimalString('4.900000')).toBe(490);
    expect(hundredthsFromDecimalString('0.004999')).toBe(0);
    expect(hundredthsFromDecimalString('-0.005')).toBe(-1);
    expect(Object.is(hundredthsFromDecimalString('-0.004'), 0)).toBe(true);
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

/** The big.js definitions the integer arithmetic replaced: every conversion must give exactly what they gave. */
const reference = {
  fromDecimalString(value: string): number {
    const big = new Big(value.trim()).times(100);
    // Past the second decimal: half-up (away from zero), the rounding of a shown figure.
    const result = Number(big.round(0, Big.roundHalfUp).toFixed(0)) + 0;
    if (!Number.isSafeInteger(result)) throw new Error('Amount out of range');
    return result;
  },
  toNumber: (value: number) => Number(new Big(value).div(100).toString()),
  toDecimalString: (value: number) => new Big(value).div(100).toFixed(2),
};

const outcome = (f: () => number): number | 'throws' => {
  try {
    return f();
  } catch {
    return 'throws';
  }
};

describe('credit amounts without big.js, against the big.js definitions', () => {
  // A deterministic spread: small amounts, every cent pattern, and magnitudes up to Number.MAX_SAFE_INTEGER.
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const samples: number[] = [0, 1, 9, 10, 99, 100, 101, 999, 1000, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, 2 ** 52, 2 ** 53 - 100, 9_007_199_254_740_900];
  for (let i = 0; i < 5000; i++) samples.push(Math.floor(next() * 10 ** (1 + Math.floor(next() * 15.9))));

  it('hundredthsToNumber and hundredthsToDecimalString, both signs', () => {
    for (const v of samples) {
      for (const s of [v, -v]) {
        if (s === 0 && Object.is(s, -0)) continue;
        expect([s, hundredthsToNumber(s)]).toEqual([s, reference.toNumber(s)]);
        expect([s, hundredthsToDecimalString(s)]).toEqual([s, reference.toDecimalString(s)]);
      }
    }
  });

  it('hundredthsFromDecimalString on what pg and the formatter print, padded and not', () => {
    for (const v of samples) {
      for (const text of [hundredthsToDecimalString(v), hundredthsToDecimalString(-v), `${hundredthsToDecimalString(v)}00`, String(Math.floor(v / 100)), ` 0${hundredthsToDecimalString(v)} `]) {
        expect([text, outcome(() => hundredthsFromDecimalString(text))]).toEqual([text, outcome(() => reference.fromDecimalString(text))]);
      }
    }
  });

  it('rounds a third decimal half-up, as big.js does', () => {
    for (const v of samples.slice(0, 500)) {
      for (const text of [`${hundredthsToDecimalString(v)}4999`, `${hundredthsToDecimalString(v)}5`, `-${hundredthsToDecimalString(v)}5000`]) {
        expect([text, outcome(() => hundredthsFromDecimalString(text))]).toEqual([text, outcome(() => reference.fromDecimalString(text))]);
      }
    }
  });

  it('refuses what big.js refused: out of range, garbage', () => {
    for (const text of ['90071992547409.92', '100000000000000', '1e3', '', '.5', '1.', '--1']) {
      expect(() => hundredthsFromDecimalString(text)).toThrow();
    }
    expect(hundredthsFromDecimalString('90071992547409.91')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('still goes through big.js for amounts that are not safe integers of hundredths', () => {
    expect(hundredthsToDecimalString(12.5)).toBe(reference.toDecimalString(12.5));
    expect(hundredthsToNumber(0.5)).toBe(reference.toNumber(0.5));
  });
});

describe('micro-credits (the ledger unit)', () => {
  const micros = fc.oneof(fc.integer({ min: -10_000_000, max: 10_000_000 }), fc.integer({ min: 0, max: 1_000_000_000_000_000 }), fc.constantFrom(0, 1, 4_900, 5_000, 9_999, 10_000, 1_000_000_000_000_000));
  it('round-trip through decimal strings exactly (what numeric(22,6) prints)', () => {
    fc.assert(fc.property(micros, (m) => expect(microsFromDecimalString(microsToDecimalString(m))).toBe(m + 0)), { numRuns: 3000 });
    expect(microsToDecimalString(4_900)).toBe('0.004900');
    expect(microsToDecimalString(-1)).toBe('-0.000001');
    expect(microsFromDecimalString('4.9')).toBe(4_900_000);
    expect(microsFromDecimalString('1.1234560')).toBe(1_123_456);
    expect(() => microsFromDecimalString('0.0000001')).toThrow(/6 decimals/);
  });
  it('round to hundredths half-up, as big.js does', () => {
    fc.assert(fc.property(micros, (m) => expect(hundredthsFromMicros(m)).toBe(Number(new Big(m).div(10_000).round(0, Big.roundHalfUp).toFixed(0)) + 0)), { numRuns: 3000 });
    expect([hundredthsFromMicros(4_900), hundredthsFromMicros(5_000), hundredthsFromMicros(4_999)]).toEqual([0, 1, 0]);
  });
});
