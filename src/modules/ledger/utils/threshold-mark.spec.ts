import { describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import fc from 'fast-check';
import { crossesMark, isPositive, warningFigure } from './threshold-mark';

/** The definition: before < limit × threshold <= after, in Big decimals. */
function reference(limit: string, threshold: number, before: string, after: string): boolean {
  const mark = new Big(limit).times(threshold);
  return new Big(before).lt(mark) && new Big(after).gte(mark);
}

describe('crossesMark', () => {
  it.each<[string, string | number, number, string | number, string | number, boolean]>([
    ['below the mark', '1000.00', 0.8, '0.00', '799.99', false],
    ['exactly at the mark crosses it', '1000.00', 0.8, '799.99', '800.00', true],
    ['starting at the mark does not cross it again', '1000', 0.8, '800', '900', false],
    ['one event over every mark', 100, 1, 0, 100, true],
    ['0.1 + 0.2 of 0.375 is 80 % exactly', '0.375', 0.8, '0.1', '0.30', true],
    ['a third: 1/3 of 10 is not reached by 3.33', '10', 0.333, '0', '3.32', false],
    ['a third: 3.33 reaches 0.333 of 10', '10', 0.333, '0', '3.33', true],
    ['negative before (a refund below zero)', '10', 0.5, '-1', '5', true],
    ['exponent forms go the Big way', '10', 1e-7, '0', '0.000001', true],
  ])('%s', (_name, limit, threshold, before, after, crossed) => {
    expect(crossesMark(limit, threshold, before, after)).toBe(crossed);
  });

  it('equals the Big definition over random decimals and thresholds', () => {
    const decimal = fc.tuple(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 3 })).map(([n, s]) => new Big(n).div(10 ** s).toFixed(s));
    const threshold = fc.integer({ min: 1, max: 1000 }).map((n) => n / 1000);
    fc.assert(
      fc.property(decimal, threshold, decimal, decimal, (limit, t, a, b) => {
        const [before, after] = new Big(a).lte(b) ? [a, b] : [b, a];
        expect(crossesMark(limit, t, before, after)).toBe(reference(limit, t, before, after));
      }),
      { numRuns: 5000 },
    );
  });

  it('equals the Big definition right at the mark (where the floating-point shortcut hands over to exact figures)', () => {
    const scale = fc.integer({ min: 0, max: 6 });
    const threshold = fc.integer({ min: 1, max: 1000 }).map((n) => n / 1000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000_000 }), scale, threshold, fc.integer({ min: -3, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 6 }), (n, s, t, off, span, fs) => {
        const limit = new Big(n).div(10 ** s).toFixed(s);
        // Figures a few units of their last place around the exact mark.
        const unit = new Big(1).div(10 ** fs);
        const mark = new Big(limit).times(t);
        const before = mark.plus(unit.times(off)).toFixed(fs + s + 3);
        const after = new Big(before).plus(unit.times(span)).toFixed(fs + s + 3);
        expect(crossesMark(limit, t, before, after)).toBe(reference(limit, t, before, after));
      }),
      { numRuns: 10000 },
    );
  });

  it('rounds figures half-up to 2 decimals and knows a positive limit', () => {
    expect(warningFigure('8.405')).toBe(8.41);
    expect(warningFigure(10)).toBe(10);
    expect([isPositive('0.00'), isPositive('0.01'), isPositive(-1), isPositive(5)]).toEqual([false, true, false, true]);
  });
});
