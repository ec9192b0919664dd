import { describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import fc from 'fast-check';
import { DomainError } from '../../../common/errors/domain-error';
import { MAX_EVENT_CREDITS } from '../../../common/money/bounds';
import { hundredthsFromMicros, hundredthsToNumber } from '../../../common/money/credits';
import { MAX_COMPLEXITY, MAX_UNIT_QUANTITY, deriveComplexity, priceEvent, priceEventBig, priceEventExact } from './credit-calculator';
import type { PricedDefinition } from './credit-calculator';

// The seed catalogue (docs/catalogue.md).
const diagnose: PricedDefinition = {
  baseCredits: 10,
  multipliers: { complexity: { min: 1, max: 2.5 }, features: { echo: 5, traceback: 3 } },
  version: 3,
};
const generateSolution: PricedDefinition = {
  baseCredits: 15,
  multipliers: { complexity: { min: 1, max: 3 }, features: { echo: 5, traceback: 3 } },
  version: 1,
};
const push: PricedDefinition = { baseCredits: 1, multipliers: { complexity: null, features: {} }, version: 1 };

const def = (baseCredits: number, min: number, max: number, features: Record<string, number> = {}): PricedDefinition => ({
  baseCredits,
  multipliers: { complexity: { min, max }, features },
  version: 1,
});

const text = (length: number) => 'x'.repeat(length);

describe('priceEvent: SPEC examples and table', () => {
  it.each<[string, PricedDefinition, Record<string, unknown>, number]>([
    ['SPEC: complexity 2.0 + echo', diagnose, { complexity: 2.0, echo: true }, 2500],
    ['SPEC: complexity 4 clamps to 2.5, echo + traceback', diagnose, { complexity: 4, echo: true, traceback: true }, 3300],
    ['features listed in features[]', diagnose, { complexity: 2, features: ['echo'] }, 2500],
    ['both listed and flagged counts once', diagnose, { complexity: 2, echo: true, features: ['echo', 'echo'] }, 2500],
    ['features[] with both', diagnose, { complexity: 1, features: ['echo', 'traceback'] }, 1800],
    ['flag false but listed is enabled', diagnose, { complexity: 1, echo: false, features: ['echo'] }, 1500],
    ['only === true enables a flag', diagnose, { complexity: 1, echo: 'true', traceback: 1 }, 1000],
    ['unknown features are ignored', diagnose, { complexity: 1, bogus: true, features: ['nope', 'toString'] }, 1000],
    ['complexity below min clamps to min', diagnose, { complexity: 0.2 }, 1000],
    ['complexity 0 is accepted and clamps', diagnose, { complexity: 0 }, 1000],
    ['complexity MAX_COMPLEXITY is accepted', diagnose, { complexity: MAX_COMPLEXITY }, 2500],
    ['null complexity is treated as absent', diagnose, { complexity: null }, 1000],
    ['no complexity multiplier: base only', push, { complexity: 9, echo: true }, 100],
    ['no complexity multiplier, nothing given', push, {}, 100],
    ['empty eventData derives complexity 1', diagnose, {}, 1000],
    ['derived: 500 chars -> factor 1', generateSolution, { inputText: text(500) }, 1500],
    ['derived: 2750 chars -> 2.0', generateSolution, { inputText: text(2750) }, 3000],
    ['derived: 2750 chars -> 2.0 within diagnose range', diagnose, { inputText: text(2750) }, 2000],
    ['derived: 5000 chars -> 3.0', generateSolution, { inputText: text(5000) }, 4500],
    ['derived: 10000 chars -> 3.0', generateSolution, { inputText: text(10000) }, 4500],
    ['derived: 5000 chars clamps to diagnose max 2.5', diagnose, { inputText: text(5000) }, 2500],
    ['derived from input when no inputText (JSON length 2750)', generateSolution, { input: text(2748) }, 3000],
    ['derived from input object', generateSolution, { input: { a: text(4992) } }, 4500], // {"a":"…"} = 5000
    ['non-string inputText falls back to input', generateSolution, { inputText: 42, input: text(2748) }, 3000],
    ['inputText wins over input', generateSolution, { inputText: text(10), input: text(9000) }, 1500],
    ['given complexity wins over derived', generateSolution, { complexity: 1, inputText: text(9000) }, 1500],
    ['rounding half-up: 0.07 * 1.5 = 0.105 -> 0.11', def(0.07, 1, 2), { complexity: 1.5 }, 11],
    ['Big, not floats: 0.35 * 1.3 = 0.455 -> 0.46', def(0.35, 1, 2), { complexity: 1.3 }, 46],
    ['Big, not floats: 1.15 * 1.1 = 1.265 -> 1.27', def(1.15, 1, 2), { complexity: 1.1 }, 127],
    ['rounds down below the half: 0.07 * 1.01 = 0.0707', def(0.07, 1, 2), { complexity: 1.01 }, 7],
    // 2.25 * (1 + 2*5/4500) = 2.255 exactly; dividing first rounds 1/450 down and lands at 2.2549…
    ['derived exact half-cent: 2.25 at 505 chars = 2.255 -> 2.26', def(2.25, 1, 3), { inputText: text(505) }, 226],
    ['tiny given complexity in e-notation', def(10, 1, 2), { complexity: 1e-7 }, 1000],
    ['base 0 with bonus', def(0, 1, 3, { a: 0.5 }), { complexity: 3, a: true }, 50],
  ])('%s', (_name, definition, eventData, hundredths) => {
    expect(priceEvent(definition, eventData).credits).toBe(hundredths);
  });

  it('returns the SPEC breakdown for the 25-credit example', () => {
    expect(priceEvent(diagnose, { complexity: 2.0, echo: true })).toEqual({
      micros: 25_000_000,
      credits: 2500,
      breakdown: {
        baseCredits: 10,
        complexity: 2,
        complexitySource: 'given',
        factor: 2,
        featureBonuses: { echo: 5 },
        total: 25,
        version: 3,
      },
    });
  });

  it('reports the given complexity and the clamped factor', () => {
    const { breakdown } = priceEvent(diagnose, { complexity: 4, echo: true, traceback: true });
    expect(breakdown).toMatchObject({ complexity: 4, complexitySource: 'given', factor: 2.5, total: 33 });
    expect(breakdown.featureBonuses).toEqual({ echo: 5, traceback: 3 });
  });

  it('reports derived complexity rounded to 4 decimals for display only', () => {
    const result = priceEvent(def(2.25, 1, 3), { inputText: text(505) });
    expect(result.breakdown).toMatchObject({ complexity: 1.0022, complexitySource: 'derived', factor: 1.0022, total: 2.26 });
  });

  it("reports source 'none' and factor 1 without a complexity multiplier", () => {
    expect(priceEvent(push, { complexity: 4 }).breakdown).toEqual({
      baseCredits: 1,
      complexity: 4,
      complexitySource: 'none',
      factor: 1,
      featureBonuses: {},
      total: 1,
      version: 1,
    });
    expect(priceEvent(push, {}).breakdown).toMatchObject({ complexity: 1, complexitySource: 'none', factor: 1 });
  });

  it('gives a total with 2 decimals as a JSON number', () => {
    expect(priceEvent(def(0.07, 1, 2), { complexity: 1.5 }).breakdown.total).toBe(0.11);
    expect(JSON.stringify(priceEvent(def(12.35, 1, 1), {}).breakdown.total)).toBe('12.35');
  });

  it('keeps a feature named __proto__ as plain data', () => {
    const features = JSON.parse('{"__proto__": 2}') as Record<string, number>;
    const { breakdown, credits } = priceEvent(def(1, 1, 1, features), { features: ['__proto__'] });
    expect(credits).toBe(300);
    expect(Object.hasOwn(breakdown.featureBonuses, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(breakdown.featureBonuses)).toBe(Object.prototype);
  });

  it('does not mutate its inputs', () => {
    const definition = structuredClone(diagnose);
    const eventData = { complexity: 2, features: ['echo'], traceback: true };
    const frozen = (v: object) => Object.freeze(structuredClone(v));
    expect(() => priceEvent(frozen(definition) as PricedDefinition, frozen(eventData) as Record<string, unknown>)).not.toThrow();
    priceEvent(definition, eventData);
    expect(definition).toEqual(diagnose);
    expect(eventData).toEqual({ complexity: 2, features: ['echo'], traceback: true });
  });
});

describe('priceEvent: rejections', () => {
  const fieldsOf = (fn: () => unknown): Record<string, string[]> => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('VALIDATION_FAILED');
      return (error as DomainError).details?.fields as Record<string, string[]>;
    }
    throw new Error('expected a validation error');
  };

  it.each<[string, unknown]>([
    ['NaN', Number.NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['-1', -1],
    ['-0.0001', -0.0001],
    ["the string '2'", '2'],
    ['1e7', 1e7],
    ['just above MAX_COMPLEXITY', MAX_COMPLEXITY + 0.5],
    ['a boolean', true],
    ['an object', { value: 2 }],
  ])('rejects complexity %s', (_name, complexity) => {
    expect(fieldsOf(() => priceEvent(diagnose, { complexity }))).toEqual({
      'eventData.complexity': ['complexity must be a finite number from 0 to 1000000'],
    });
  });

  it('validates complexity even without a complexity multiplier', () => {
    expect(Object.keys(fieldsOf(() => priceEvent(push, { complexity: '2' })))).toEqual(['eventData.complexity']);
  });

  it.each<[string, unknown]>([
    ['a string', 'echo'],
    ['an object', { echo: true }],
    ['an array with a non-string', ['echo', 1]],
    ['a number', 3],
  ])('rejects features that are %s', (_name, features) => {
    expect(Object.keys(fieldsOf(() => priceEvent(diagnose, { complexity: 1, features })))).toEqual(['eventData.features']);
  });

  it('reports both bad fields at once', () => {
    expect(Object.keys(fieldsOf(() => priceEvent(diagnose, { complexity: -1, features: 'echo' }))).sort()).toEqual([
      'eventData.complexity',
      'eventData.features',
    ]);
  });
});

describe('deriveComplexity', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['nothing', {}, '1'],
    ['empty inputText', { inputText: '' }, '1'],
    ['inputText 500', { inputText: text(500) }, '1'],
    ['inputText 2750', { inputText: text(2750) }, '2'],
    ['inputText 5000', { inputText: text(5000) }, '3'],
    ['inputText 10000', { inputText: text(10000) }, '3'],
    ['input string, JSON length 2750', { input: text(2748) }, '2'],
    ['input null', { input: null }, '1'],
    ['inputText null, input JSON length 5000', { inputText: null, input: text(4998) }, '3'],
  ])('%s -> %s', (_name, eventData, expected) => {
    expect(deriveComplexity(eventData).toString()).toBe(expected);
  });
});

// ---- property tests ----

const amount = (maxHundredths: number) => fc.integer({ min: 0, max: maxHundredths }).map(hundredthsToNumber);
const FEATURE_NAMES = ['echo', 'traceback', 'deep', 'hd'] as const;

const definitionArb: fc.Arbitrary<PricedDefinition> = fc
  .record({
    base: amount(100_000),
    min: fc.integer({ min: 100, max: 1000 }),
    spread: fc.integer({ min: 0, max: 900 }),
    hasRange: fc.boolean(),
    features: fc.dictionary(fc.constantFrom(...FEATURE_NAMES), amount(10_000)),
    version: fc.integer({ min: 1, max: 1000 }),
  })
  .map(({ base, min, spread, hasRange, features, version }) => ({
    baseCredits: base,
    multipliers: {
      complexity: hasRange
        ? { min: hundredthsToNumber(min), max: hundredthsToNumber(Math.min(1000, min + spread)) }
        : null,
      features,
    },
    version,
  }));

const complexityArb = fc.oneof(
  fc.double({ min: 0, max: MAX_COMPLEXITY, noNaN: true }),
  fc.double({ min: 0, max: 12, noNaN: true }),
  fc.integer({ min: 0, max: 1200 }).map((h) => h / 100),
);
const enabledArb: fc.Arbitrary<string[]> = fc.subarray<string>([...FEATURE_NAMES]);
const lengthArb = fc.integer({ min: 0, max: 12_000 });

/** Event data enabling `names`, half as flags and half listed, to exercise both ways. */
const withFeatures = (names: readonly string[], extra: Record<string, unknown>): Record<string, unknown> => {
  const data: Record<string, unknown> = { ...extra, features: names.filter((_, i) => i % 2 === 0) };
  names.filter((_, i) => i % 2 === 1).forEach((n) => (data[n] = true));
  return data;
};

/** Independent oracle: the SPEC formula literally, with Big for a given complexity. */
function oracleGiven(definition: PricedDefinition, complexity: number, enabled: readonly string[]): number {
  const range = definition.multipliers.complexity;
  let factor = new Big(1);
  if (range) {
    const c = new Big(String(complexity));
    factor = new Big(String(range.min)).gt(c) ? new Big(String(range.min)) : c;
    if (factor.gt(new Big(String(range.max)))) factor = new Big(String(range.max));
  }
  const bonus = Object.entries(definition.multipliers.features)
    .filter(([name]) => enabled.includes(name))
    .reduce((sum, [, b]) => sum.plus(new Big(String(b))), new Big(0));
  return Number(new Big(String(definition.baseCredits)).times(factor).plus(bonus).times(100).round(0, Big.roundHalfUp).toString());
}

/** Independent oracle for a derived complexity: exact rationals in BigInt hundredths (no decimal rounding at all). */
function oracleDerived(definition: PricedDefinition, length: number, enabled: readonly string[]): number {
  const h = (n: number) => BigInt(Math.round(n * 100)); // inputs are generated with at most 2 decimals
  const range = definition.multipliers.complexity;
  // factor = fNum / fDen
  let fNum = 1n;
  let fDen = 1n;
  if (range) {
    // 1 + 2*min(1, max(0, (len-500)/4500)) = (clampedLen + 1750) / 2250
    const len = BigInt(Math.min(5000, Math.max(500, length)));
    fNum = len + 1750n;
    fDen = 2250n;
    if (fNum * 100n < h(range.min) * fDen) [fNum, fDen] = [h(range.min), 100n];
    else if (fNum * 100n > h(range.max) * fDen) [fNum, fDen] = [h(range.max), 100n];
  }
  const bonus = Object.entries(definition.multipliers.features)
    .filter(([name]) => enabled.includes(name))
    .reduce((sum, [, b]) => sum + h(b), 0n);
  // total hundredths = base * fNum / fDen + bonus; round half-up = floor((2n + d) / 2d)
  const num = h(definition.baseCredits) * fNum + bonus * fDen;
  return Number((2n * num + fDen) / (2n * fDen));
}

describe('priceEvent: properties', () => {
  it('is non-decreasing in complexity', () => {
    fc.assert(
      fc.property(definitionArb, complexityArb, complexityArb, enabledArb, (definition, a, b, enabled) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const low = priceEvent(definition, withFeatures(enabled, { complexity: lo })).credits;
        const high = priceEvent(definition, withFeatures(enabled, { complexity: hi })).credits;
        expect(low).toBeLessThanOrEqual(high);
      }),
    );
  });

  it('is non-decreasing in input length (derived complexity)', () => {
    fc.assert(
      fc.property(definitionArb, lengthArb, lengthArb, (definition, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(priceEvent(definition, { inputText: text(lo) }).credits).toBeLessThanOrEqual(
          priceEvent(definition, { inputText: text(hi) }).credits,
        );
      }),
    );
  });

  it('is non-decreasing in the set of enabled features', () => {
    fc.assert(
      fc.property(definitionArb, complexityArb, enabledArb, enabledArb, (definition, complexity, a, b) => {
        const subset = a;
        const superset = [...new Set([...a, ...b])];
        expect(priceEvent(definition, withFeatures(subset, { complexity })).credits).toBeLessThanOrEqual(
          priceEvent(definition, withFeatures(superset, { complexity })).credits,
        );
      }),
    );
  });

  it('applies a factor within [min, max] (1 without a multiplier)', () => {
    fc.assert(
      fc.property(definitionArb, fc.option(complexityArb), lengthArb, (definition, complexity, length) => {
        const { factor } = priceEvent(definition, { complexity, inputText: text(length) }).breakdown;
        const range = definition.multipliers.complexity;
        if (range === null) {
          expect(factor).toBe(1);
        } else {
          expect(factor).toBeGreaterThanOrEqual(range.min);
          expect(factor).toBeLessThanOrEqual(range.max);
        }
      }),
    );
  });

  it('yields a non-negative safe integer of hundredths matching the total', () => {
    fc.assert(
      fc.property(definitionArb, fc.option(complexityArb), lengthArb, enabledArb, (definition, complexity, length, enabled) => {
        const { credits, breakdown } = priceEvent(definition, withFeatures(enabled, { complexity, inputText: text(length) }));
        expect(Number.isSafeInteger(credits)).toBe(true);
        expect(credits).toBeGreaterThanOrEqual(0);
        expect(breakdown.total).toBe(hundredthsToNumber(credits));
        expect(breakdown.version).toBe(definition.version);
        expect(Object.keys(breakdown.featureBonuses).sort()).toEqual(
          Object.keys(definition.multipliers.features)
            .filter((f) => enabled.includes(f))
            .sort(),
        );
      }),
    );
  });

  it('equals an independent Big computation for a given complexity', () => {
    fc.assert(
      fc.property(definitionArb, complexityArb, enabledArb, (definition, complexity, enabled) => {
        expect(priceEvent(definition, withFeatures(enabled, { complexity })).credits).toBe(
          oracleGiven(definition, complexity, enabled),
        );
      }),
    );
  });

  it('equals an exact rational computation for a derived complexity', () => {
    fc.assert(
      fc.property(definitionArb, lengthArb, enabledArb, (definition, length, enabled) => {
        expect(priceEvent(definition, withFeatures(enabled, { inputText: text(length) })).credits).toBe(
          oracleDerived(definition, length, enabled),
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe('deriveComplexity: properties', () => {
  it('stays within [1, 3], is non-decreasing in length and matches the SPEC formula', () => {
    fc.assert(
      fc.property(lengthArb, lengthArb, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const low = deriveComplexity({ inputText: text(lo) });
        const high = deriveComplexity({ inputText: text(hi) });
        expect(low.gte(1) && low.lte(3)).toBe(true);
        expect(high.gte(1) && high.lte(3)).toBe(true);
        expect(low.lte(high)).toBe(true);
        const ratio = new Big(lo - 500).div(4500);
        const clamped = ratio.lt(0) ? new Big(0) : ratio.gt(1) ? new Big(1) : ratio;
        const spec = new Big(1).plus(clamped.times(2));
        expect(low.minus(spec).abs().lt(new Big('1e-15'))).toBe(true);
      }),
    );
  });

  it('measures JSON.stringify(input) when there is no string inputText', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (input) => {
        const len = input === null ? 0 : (JSON.stringify(input)?.length ?? 0);
        expect(deriveComplexity({ input }).eq(deriveComplexity({ inputText: text(len) }))).toBe(true);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Priced quantities: credits = roundHalfUp2(base × factor + bonuses + Σ quantity × rate).

const llm: PricedDefinition = {
  baseCredits: 1,
  multipliers: { complexity: null, features: { tools: 0.5 } },
  units: { inputTokens: 0.002, outputTokens: 0.008 },
  version: 2,
};
const withUnits = (units: Record<string, number>, base = 0, features: Record<string, number> = {}, complexity: { min: number; max: number } | null = null): PricedDefinition => ({
  baseCredits: base,
  multipliers: { complexity, features },
  units,
  version: 1,
});

describe('priceEvent: units table', () => {
  it.each<[string, PricedDefinition, Record<string, unknown>, number]>([
    ['issue example: 1200 in + 300 out = 2.4 + 2.4, plus base 1', llm, { units: { inputTokens: 1200, outputTokens: 300 } }, 580],
    ['no quantities named: base only', llm, {}, 100],
    ['units {} is no quantities', llm, { units: {} }, 100],
    ['units null is absent', llm, { units: null }, 100],
    ['only one unit named', llm, { units: { outputTokens: 1000 } }, 900],
    ['zero quantities are accepted', llm, { units: { inputTokens: 0, outputTokens: 0 } }, 100],
    ['with a feature bonus', llm, { units: { inputTokens: 1000 }, tools: true }, 350],
    ['with a complexity factor: 2 × 1.5 + 0.01 × 7', withUnits({ calls: 0.01 }, 2, {}, { min: 1, max: 3 }), { complexity: 1.5, units: { calls: 7 } }, 307],
    ['the sum is rounded, not each part: 3 × 0.001 + 3 × 0.002 = 0.009 -> 0.01', withUnits({ a: 0.001, b: 0.002 }), { units: { a: 3, b: 3 } }, 1],
    ['half-up on the sum: 5 × 0.001 = 0.005 -> 0.01', withUnits({ a: 0.001 }), { units: { a: 5 } }, 1],
    ['below the half rounds down: 4 × 0.001 = 0.004 -> 0', withUnits({ a: 0.001 }), { units: { a: 4 } }, 0],
    ['exact, not floats: 3 × 0.1 + 0.2 × 1 (0.30000000000000004 in floats)', withUnits({ a: 0.1, b: 0.2 }), { units: { a: 3, b: 1 } }, 50],
    ['exact, not floats: 0.000001 × 1e12 = 1,000,000', withUnits({ a: 0.000001 }), { units: { a: 1_000_000_000_000 } }, 100_000_000],
    ['six-decimal rate: 123457 × 0.000125 = 15.432125 -> 15.43', withUnits({ t: 0.000125 }), { units: { t: 123_457 } }, 1543],
    ['half-cent from units and base together: 0.005 + 0.01 × 0 … 1.005', withUnits({ a: 0.000005 }, 1), { units: { a: 1000 } }, 101],
    ['rate 0 prices nothing', withUnits({ free: 0 }, 2), { units: { free: 99 } }, 200],
    ['the largest quantity at the largest rate (10^12 × 0.001)', withUnits({ a: 0.001 }), { units: { a: 1_000_000_000_000 } }, 100_000_000_000],
  ])('%s', (_name, definition, eventData, hundredths) => {
    expect(priceEvent(definition, eventData).credits).toBe(hundredths);
  });

  it('puts each part in the breakdown: base, factor, bonuses, every unit and their sum', () => {
    expect(priceEvent(llm, { units: { inputTokens: 1200, outputTokens: 300 }, tools: true }).breakdown).toEqual({
      baseCredits: 1,
      complexity: 1,
      complexitySource: 'none',
      factor: 1,
      featureBonuses: { tools: 0.5 },
      units: {
        inputTokens: { quantity: 1200, creditsPerUnit: 0.002, credits: 2.4 },
        outputTokens: { quantity: 300, creditsPerUnit: 0.008, credits: 2.4 },
      },
      unitCredits: 4.8,
      total: 6.3,
      version: 2,
    });
  });

  it('lists the units in the order of the definition and only those named', () => {
    const b = priceEvent(llm, { units: { outputTokens: 2, inputTokens: 1 } }).breakdown;
    expect(Object.keys(b.units!)).toEqual(['inputTokens', 'outputTokens']);
    expect(priceEvent(llm, { units: { outputTokens: 2 } }).breakdown.units).toEqual({ outputTokens: { quantity: 2, creditsPerUnit: 0.008, credits: 0.016 } });
    expect(priceEvent(llm, {}).breakdown).toMatchObject({ units: {}, unitCredits: 0 });
  });

  it('leaves the breakdown of a definition without units as it was (no units fields)', () => {
    expect(Object.keys(priceEvent(diagnose, { complexity: 2 }).breakdown)).not.toContain('units');
  });
});

describe('priceEvent: unit rejections (400, nothing priced)', () => {
  const fieldsOf = (definition: PricedDefinition, eventData: Record<string, unknown>) => {
    try {
      priceEvent(definition, eventData);
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('VALIDATION_FAILED');
      return Object.keys(((error as DomainError).details as { fields: Record<string, string[]> }).fields);
    }
    throw new Error('expected a rejection');
  };

  it.each<[string, PricedDefinition, Record<string, unknown>, string[]]>([
    ['an unknown unit name', llm, { units: { cachedTokens: 10 } }, ['eventData.units.cachedTokens']],
    ['a unit on a definition without units', diagnose, { units: { inputTokens: 10 } }, ['eventData.units.inputTokens']],
    ['a prototype name is unknown, not a rate', llm, { units: { toString: 1 } }, ['eventData.units.toString']],
    ['a negative quantity', llm, { units: { inputTokens: -1 } }, ['eventData.units.inputTokens']],
    ['a fractional quantity', llm, { units: { inputTokens: 1.5 } }, ['eventData.units.inputTokens']],
    ['a numeric string', llm, { units: { inputTokens: '10' } }, ['eventData.units.inputTokens']],
    ['NaN', llm, { units: { inputTokens: Number.NaN } }, ['eventData.units.inputTokens']],
    ['Infinity', llm, { units: { inputTokens: Number.POSITIVE_INFINITY } }, ['eventData.units.inputTokens']],
    ['beyond safe integers', llm, { units: { inputTokens: 2 ** 53 } }, ['eventData.units.inputTokens']],
    ['above the largest quantity', llm, { units: { inputTokens: MAX_UNIT_QUANTITY + 1 } }, ['eventData.units.inputTokens']],
    ['units as an array', llm, { units: [1, 2] }, ['eventData.units']],
    ['units as a number', llm, { units: 5 }, ['eventData.units']],
    ['every bad unit at once', llm, { units: { inputTokens: -1, bogus: 1 } }, ['eventData.units.inputTokens', 'eventData.units.bogus']],
  ])('%s', (_name, definition, eventData, fields) => {
    expect(fieldsOf(definition, eventData).sort()).toEqual(fields.sort());
  });
});

describe('priceEvent: the bound on one event (MAX_EVENT_CREDITS)', () => {
  const llmLike = withUnits({ a: 0.002 }, 0.5);
  const atBound = (MAX_EVENT_CREDITS - 0.5) / 0.002;

  it('prices an event at the bound exactly, on both paths', () => {
    expect(priceEvent(llmLike, { units: { a: atBound } }).credits).toBe(MAX_EVENT_CREDITS * 100);
    expect(priceEventBig(llmLike, { units: { a: atBound } }).credits).toBe(MAX_EVENT_CREDITS * 100);
  });

  it.each<[string, number]>([
    ['one hundredth past it', atBound + 5],
    ['the largest quantity', MAX_UNIT_QUANTITY],
  ])('refuses %s with AMOUNT_OUT_OF_BOUNDS naming the bound (422, not a validation error)', (_name, a) => {
    for (const price of [priceEvent, priceEventBig]) {
      try {
        price(llmLike, { units: { a } });
        throw new Error('expected a rejection');
      } catch (error) {
        expect(error).toBeInstanceOf(DomainError);
        expect((error as DomainError).code).toBe('AMOUNT_OUT_OF_BOUNDS');
        expect((error as DomainError).details).toMatchObject({ bound: 'eventCredits', max: MAX_EVENT_CREDITS, field: 'eventData.units' });
      }
    }
  });

  it('refuses a price far beyond safe integers the same way', () => {
    expect(() => priceEvent(withUnits({ a: 1_000_000, b: 1_000_000 }), { units: { a: MAX_UNIT_QUANTITY, b: MAX_UNIT_QUANTITY } })).toThrow(/at most 1000000000 credits/);
  });
});

describe('priceEvent: micro-credits (token events never round to free)', () => {
  it('prices 49 tokens at 0.0001 at 4,900 micros (shown as 0.00), and 49,000 tokens at 4.90', () => {
    const tokens = withUnits({ tokens: 0.0001 }, 0);
    expect(priceEvent(tokens, { units: { tokens: 49 } })).toMatchObject({ micros: 4_900, credits: 0 });
    expect(priceEvent(tokens, { units: { tokens: 49_000 } })).toMatchObject({ micros: 4_900_000, credits: 490 });
  });

  it('property: the sum of N events’ charges equals the price of their total quantity within one hundredth (exactly, in micros)', () => {
    const rate = fc.integer({ min: 1, max: 10_000_000 }).map((m) => Number(new Big(m).div(1_000_000).toString()));
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('a', 'b', 'c'), rate, { minKeys: 1 }), fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 200 }), fc.func(fc.constantFrom('a', 'b', 'c')), (units, parts, unitOf) => {
        const definition = withUnits(units, 0);
        const names = Object.keys(units);
        const totals: Record<string, number> = {};
        let sum = 0;
        parts.forEach((q, i) => {
          const name = names.includes(unitOf(i)) ? unitOf(i) : names[0];
          totals[name] = (totals[name] ?? 0) + q;
          sum += priceEvent(definition, { units: { [name]: q } }).micros;
        });
        const whole = priceEvent(definition, { units: totals });
        expect(sum).toBe(whole.micros);
        expect(Math.abs(hundredthsFromMicros(sum) - whole.credits)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: with a base price and a complexity factor, N events cost N times the base plus the shared price, within half a micro each', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 1_000_000 }), fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 100 }), (baseHundredths, rateMicros, parts) => {
        const base = hundredthsToNumber(baseHundredths);
        const r = Number(new Big(rateMicros).div(1_000_000).toString());
        const definition = withUnits({ t: r }, base);
        const sum = parts.reduce((acc, q) => acc + priceEvent(definition, { units: { t: q } }).micros, 0);
        const total = parts.reduce((a, b) => a + b, 0);
        // Base hundredths and 6-decimal rates are exact in micros: no rounding at all.
        expect(sum).toBe(parts.length * baseHundredths * 10_000 + total * rateMicros);
      }),
      { numRuns: 500 },
    );
  });
});

describe('priceEvent: units, properties', () => {
  // Rates as integer millionths, quantities whole: the exact price in hundredths, computed with bigint only.
  const unitNames = ['a', 'b', 'c', 'd'];
  const ratesArb = fc.dictionary(fc.constantFrom(...unitNames), fc.integer({ min: 0, max: 10_000_000_000 }), { minKeys: 1 });
  const quantityArb = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 100_000_000 }));

  const exactHundredths = (baseHundredths: number, micros: Record<string, number>, quantities: Record<string, number>): number => {
    // Σ in units of 10^-6 credits; hundredths = round half-up of Σ / 10^4.
    let sum = BigInt(baseHundredths) * 10_000n;
    for (const [name, q] of Object.entries(quantities)) sum += BigInt(q) * BigInt(micros[name]);
    return Number((sum + 5_000n) / 10_000n);
  };

  it('equals an independent bigint computation of Σ quantity × rate + base', () => {
    fc.assert(
      fc.property(
        ratesArb,
        fc.integer({ min: 0, max: 100_000 }),
        fc.func(quantityArb),
        fc.func(fc.boolean()),
        (micros, baseHundredths, pick, include) => {
          const units = Object.fromEntries(Object.entries(micros).map(([n, m]) => [n, Number(new Big(m).div(1_000_000).toString())]));
          const quantities = Object.fromEntries(Object.keys(units).filter((n) => include(n)).map((n) => [n, pick(n)]));
          const definition = withUnits(units, hundredthsToNumber(baseHundredths));
          const expected = exactHundredths(baseHundredths, micros, quantities);
          if (expected > MAX_EVENT_CREDITS * 100) {
            expect(() => priceEvent(definition, { units: quantities })).toThrow(DomainError);
            return;
          }
          const priced = priceEvent(definition, { units: quantities });
          expect(priced.credits).toBe(expected);
          expect(priced.breakdown.total).toBe(hundredthsToNumber(priced.credits));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is non-decreasing in every quantity', () => {
    fc.assert(
      fc.property(ratesArb, fc.constantFrom(...unitNames), quantityArb, quantityArb, (micros, name, x, y) => {
        const units = Object.fromEntries(Object.entries(micros).map(([n, m]) => [n, Number(new Big(m).div(1_000_000).toString())]));
        fc.pre(name in units);
        const [lo, hi] = x <= y ? [x, y] : [y, x];
        // Past the bound an event has no price (refused): it counts as above every price.
        const price = (q: number) => {
          try {
            return priceEvent(withUnits(units), { units: { [name]: q } }).credits;
          } catch {
            return Number.POSITIVE_INFINITY;
          }
        };
        expect(price(lo)).toBeLessThanOrEqual(price(hi));
      }),
    );
  });
});

// ---- the integer path against the Big implementation ----

describe('priceEvent (integer hundredths) equals priceEventBig', () => {
  /** Any finite double, or one with few decimals (the realistic case, where the integer path runs). */
  const decimal = (max: number) => fc.oneof(fc.double({ min: 0, max, noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: max * 100 }).map((h) => h / 100), fc.integer({ min: 0, max: max * 1_000_000 }).map((m) => m / 1_000_000));
  const rangeArb = fc.option(
    fc.tuple(fc.oneof(fc.double({ min: 1, max: 10, noNaN: true }), fc.integer({ min: 100, max: 1000 }).map((h) => h / 100)), fc.oneof(fc.double({ min: 1, max: 10, noNaN: true }), fc.integer({ min: 100, max: 1000 }).map((h) => h / 100))).map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) })),
    { nil: null },
  );
  const rateArb = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }).map((m) => m / 1_000_000), fc.integer({ min: 0, max: 2_000_000 }).map((h) => h / 100), fc.constantFrom(0, 1e-6, 0.000002, 1_000_000));
  const arb = fc.record({
    definition: fc.record({
      baseCredits: decimal(10_000),
      multipliers: fc.record({ complexity: rangeArb, features: fc.dictionary(fc.constantFrom(...FEATURE_NAMES), decimal(1_000)) }),
      units: fc.option(fc.dictionary(fc.constantFrom('inputTokens', 'outputTokens', 'images'), rateArb, { minKeys: 1 }), { nil: undefined }),
      version: fc.integer({ min: 1, max: 9 }),
    }),
    complexity: fc.option(fc.oneof(complexityArb, fc.double({ min: 0, max: 12, noNaN: true })), { nil: undefined }),
    length: fc.option(lengthArb, { nil: undefined }),
    enabled: enabledArb,
    quantities: fc.dictionary(fc.constantFrom('inputTokens', 'outputTokens', 'images'), fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(0, MAX_UNIT_QUANTITY))),
  });
  const outcome = (price: () => unknown) => {
    try {
      return { ok: price() };
    } catch (error) {
      return { error: error instanceof DomainError ? error.details : String(error) };
    }
  };

  it('gives the same credits and breakdown (or the same error) over random definitions and events', () => {
    fc.assert(
      fc.property(arb, ({ definition, complexity, length, enabled, quantities }) => {
        const rates = definition.units ?? {};
        const units = Object.fromEntries(Object.entries(quantities).filter(([name]) => Object.hasOwn(rates, name)));
        const data = withFeatures(enabled, { ...(complexity !== undefined ? { complexity } : {}), ...(length !== undefined ? { inputText: text(length) } : {}), ...(Object.keys(units).length ? { units } : {}) });
        expect(outcome(() => priceEvent(definition, data))).toEqual(outcome(() => priceEventBig(definition, data)));
      }),
      { numRuns: 5000 },
    );
  });

  it('runs the integer path for ordinary events (no Big) and agrees on the SPEC example', () => {
    for (const [definition, data] of [
      [diagnose, { complexity: 2.0, echo: true }],
      [generateSolution, { inputText: text(2000) }],
      [push, {}],
      [{ ...push, units: { inputTokens: 0.000002, outputTokens: 0.00001 } }, { units: { inputTokens: 1200, outputTokens: 300 } }],
    ] as Array<[PricedDefinition, Record<string, unknown>]>) {
      expect(priceEventExact(definition, data)).toBeDefined();
      expect(priceEventExact(definition, data)).toEqual(priceEventBig(definition, data));
    }
    expect(priceEvent(def(2.25, 1, 3), { inputText: text(505) }).credits).toBe(226);
  });
});
