import { describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import fc from 'fast-check';
import { crossesMark, isPositive, marksCrossed, warningFigure } from './threshold-mark';

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

  it('marksCrossed: the thresholds crossesMark says, in order, over random figures and figures at, just under and just over a mark', () => {
    const scaled = (s: number) => fc.integer({ min: -1_000_000, max: 1_000_000_000_000 }).map((n) => new Big(n).div(10 ** s).toFixed(s));
    const decimal = fc.integer({ min: 0, max: 6 }).chain(scaled);
    const thresholds = fc.array(fc.integer({ min: 1, max: 1000 }).map((n) => n / 1000), { maxLength: 5 });
    // A figure exactly at one of the marks, or a millionth (the ledger's unit) either side of it.
    const nearMark = (limit: string, ts: number[], pick: number, nudge: number) => (ts.length === 0 ? limit : new Big(limit).times(ts[pick % ts.length]).plus(new Big(nudge).div(1_000_000)).toFixed());
    fc.assert(
      fc.property(decimal, thresholds, decimal, decimal, fc.nat(), fc.integer({ min: -1, max: 1 }), fc.boolean(), (limit, ts, x, y, pick, nudge, atMark) => {
        const [before, after] = new Big(x).lte(y) ? [x, y] : [y, x];
        const figures: Array<[string, string]> = atMark ? [[before, nearMark(limit, ts, pick, nudge)], [nearMark(limit, ts, pick, nudge), after]] : [[before, after]];
        for (const [b, a] of figures) expect(marksCrossed(limit, ts, b, a)).toEqual(ts.filter((t) => reference(limit, t, b, a)));
      }),
      { numRuns: 20000 },
    );
    // Not a plain decimal: the exact (Big) way.
    expect(marksCrossed('10', [1e-7, 0.5], '0', '0.000001')).toEqual([1e-7]);
    expect(marksCrossed('1e2', [0.5], '49.999999', '50')).toEqual([0.5]);
  });

  it('rounds figures half-up to 2 decimals and knows a positive limit', () => {
    expect(warningFigure('8.405')).toBe(8.41);
    expect(warningFigure(10)).toBe(10);
    expect([isPositive('0.00'), isPositive('0.01'), isPositive(-1), isPositive(5), isPositive('0.000001'), isPositive('-0.000001'), isPositive('1e-400'), isPositive('-0')]).toEqual([false, true, false, true, true, false, true, false]);
  });
});
