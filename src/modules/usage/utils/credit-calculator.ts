import Big from 'big.js';
import { hundredthsFromMicros, hundredthsToNumber } from '../../../common/money/credits';
import type { CreditHundredths, CreditMicros } from '../../../common/money/credits';
import { addFieldError, validationFailed } from '../../../common/errors/domain-error';
import { amountOutOfBounds, MAX_EVENT_CREDITS } from '../../../common/money/bounds';
import type { FieldErrors } from '../../../common/errors/domain-error';
import type { EventDefinitionConfig } from '../../events/entities/event-definition.entity';
import type { PriceBreakdown } from '../../../../libs/contracts/src/tracking.types';

/**
 * The credit formula (docs/pricing.md), as a pure function. No binary float ever holds an amount: the per-event
 * path (priceExact) works in safe integers of scaled decimals, exactly; anything that would not fit a safe
 * integer goes to the Big implementation (priceBig), which is also the reference the property tests hold the
 * integer path to.
 */

export const MAX_COMPLEXITY = 1_000_000;
/** The largest price of one event (MAX_EVENT_CREDITS, see common/money/bounds.ts), in hundredths and in micros. */
export const MAX_EVENT_HUNDREDTHS = MAX_EVENT_CREDITS * 100;
export const MAX_EVENT_MICROS = MAX_EVENT_CREDITS * 1_000_000;

export interface PricedDefinition {
  baseCredits: number;
  multipliers: EventDefinitionConfig['multipliers'];
  /** Priced quantities, unit name -> credits per unit (absent or {}: none). */
  units?: Record<string, number>;
  version: number;
}

/** The most units of one kind an event may name (a bound on the price, not a business rule). */
export const MAX_UNIT_QUANTITY = 1_000_000_000_000;

/** What prices an event, from a stored definition (its config and version). */
export function pricedDefinition(definition: { config: Pick<EventDefinitionConfig, 'baseCredits' | 'multipliers' | 'units'>; version: number }): PricedDefinition {
  return { baseCredits: definition.config.baseCredits, multipliers: definition.config.multipliers, units: definition.config.units, version: definition.version };
}

export type { PriceBreakdown } from '../../../../libs/contracts/src/tracking.types';

export interface PriceResult {
  /**
   * What the ledger charges: the exact price rounded half-up to the millionth of a credit (exact for every
   * unit rate, which has at most 6 decimals). 49 tokens at 0.0001 cost 4,900 micros, not 0.
   */
  micros: CreditMicros;
  /** The price as shown (responses, the breakdown's total): `micros` rounded half-up to hundredths, once. */
  credits: CreditHundredths;
  breakdown: PriceBreakdown;
}

const COMPLEXITY_MESSAGE = `complexity must be a finite number from 0 to ${MAX_COMPLEXITY}`;
const FEATURES_MESSAGE = 'features must be an array of strings';
const UNITS_MESSAGE = 'units must be an object of unit name -> quantity (a whole number >= 0)';

// Derived complexity = 1 + 2 * (len - 500) / 4500 = (len + 1750) / 2250 on [500, 5000]. Pricing keeps it as
// this fraction and divides last: dividing first would round a repeating decimal (e.g. 1/450) and could
// push an exact half-cent (2.25 * 1.00222… = 2.255) to the wrong side of roundHalfUp2.
const DERIVED_DENOMINATOR = 2250;
const DERIVED_MIN_LEN = 500;
const DERIVED_MAX_LEN = 5000;

function inputLength(eventData: Record<string, unknown>): number {
  const { inputText, input } = eventData;
  if (typeof inputText === 'string') return inputText.length;
  if (input === undefined || input === null) return 0;
  // JSON.stringify returns undefined for functions/symbols: nothing measurable.
  return JSON.stringify(input)?.length ?? 0;
}

/** Numerator over DERIVED_DENOMINATOR, exact. */
function derivedNumerator(eventData: Record<string, unknown>): number {
  const len = Math.min(DERIVED_MAX_LEN, Math.max(DERIVED_MIN_LEN, inputLength(eventData)));
  return len + 1750;
}

/** The length factor (docs/pricing.md): 1.0 up to 500 characters, rising linearly to 3.0 at 5,000 and beyond. */
export function deriveComplexity(eventData: Record<string, unknown>): Big {
  return new Big(derivedNumerator(eventData)).div(DERIVED_DENOMINATOR);
}

interface ValidInput {
  given: number | null;
  listed: Set<string>;
  /** The quantities named, in the definition's unit order: [name, quantity, rate]. */
  quantities: Array<[string, number, number]>;
}

function validate(eventData: Record<string, unknown>, rates: Record<string, number>): ValidInput {
  const fields: FieldErrors = {};
  const { complexity, features, units } = eventData;
  let given: number | null = null;
  if (complexity !== undefined && complexity !== null) {
    // typeof check first: a numeric string like '2' is refused, not coerced.
    if (typeof complexity === 'number' && Number.isFinite(complexity) && complexity >= 0 && complexity <= MAX_COMPLEXITY) {
      given = complexity;
    } else {
      addFieldError(fields, 'eventData.complexity', COMPLEXITY_MESSAGE);
    }
  }
  let listed = new Set<string>();
  if (features !== undefined && features !== null) {
    if (Array.isArray(features) && features.every((f) => typeof f === 'string')) {
      listed = new Set(features as string[]);
    } else {
      addFieldError(fields, 'eventData.features', FEATURES_MESSAGE);
    }
  }
  const named = new Map<string, number>();
  if (units !== undefined && units !== null) {
    if (typeof units !== 'object' || Array.isArray(units)) addFieldError(fields, 'eventData.units', UNITS_MESSAGE);
    else {
      for (const [name, quantity] of Object.entries(units as Record<string, unknown>)) {
        const field = `eventData.units.${name}`;
        // hasOwnProperty: "toString" or "__proto__" is an unknown unit, not a rate found on the prototype.
        if (!Object.prototype.hasOwnProperty.call(rates, name)) addFieldError(fields, field, `${name} is not a unit of this event type${Object.keys(rates).length ? ` (units: ${Object.keys(rates).join(', ')})` : ' (it prices no units)'}`);
        else if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity < 0) addFieldError(fields, field, `${field} must be a whole number >= 0`);
        else if (quantity > MAX_UNIT_QUANTITY) addFieldError(fields, field, `${field} must be at most ${MAX_UNIT_QUANTITY}`);
        else named.set(name, quantity);
      }
    }
  }
  if (Object.keys(fields).length > 0) throw validationFailed(fields);
  const quantities: Array<[string, number, number]> = [];
  for (const [name, rate] of Object.entries(rates)) {
    const quantity = named.get(name);
    if (quantity !== undefined) quantities.push([name, quantity, rate]);
  }
  return { given, listed, quantities };
}

function displayNumber(value: Big, exact: boolean): number {
  return Number((exact ? value : value.round(4, Big.roundHalfUp)).toString());
}

export function priceEvent(definition: PricedDefinition, eventData: Record<string, unknown>): PriceResult {
  const valid = validate(eventData, definition.units ?? {});
  return priceExact(definition, eventData, valid) ?? priceBig(definition, eventData, valid);
}

/** The Big implementation alone: the reference for priceEvent's integer path (property tests). */
export function priceEventBig(definition: PricedDefinition, eventData: Record<string, unknown>): PriceResult {
  return priceBig(definition, eventData, validate(eventData, definition.units ?? {}));
}

/** The integer path alone (undefined where it defers to Big): lets the tests see that it runs. */
export function priceEventExact(definition: PricedDefinition, eventData: Record<string, unknown>): PriceResult | undefined {
  return priceExact(definition, eventData, validate(eventData, definition.units ?? {}));
}

// Powers of ten that are exact doubles (10^22 is the last one).
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * A finite number's shortest decimal form (what String() prints, which is what Big reads) as an integer
 * mantissa and a count of decimals: 1.25 -> [125, 2], 30 -> [30, 0]. Undefined for e-notation or a mantissa
 * beyond 2^53: the caller then uses Big.
 */
function decimalParts(x: number): [number, number] | undefined {
  const text = String(x);
  if (text.includes('e')) return undefined;
  const dot = text.indexOf('.');
  const mantissa = Number(dot < 0 ? text : text.slice(0, dot) + text.slice(dot + 1));
  if (!Number.isSafeInteger(mantissa)) return undefined;
  return [mantissa, dot < 0 ? 0 : text.length - dot - 1];
}

const safe = (n: number) => Number.isSafeInteger(n);

/**
 * priceBig's result in integers: every part is a fraction num / (10^scale * den) with den 1, or 2250 for a
 * derived complexity inside the range (then the value is not a decimal at all, and Big's 20-place quotient
 * is still exact enough: a derived sum's distance from a half-cent is at least 1/450,000, so both round the
 * same way). Every product and sum is checked to stay a safe integer; answers undefined when one would not.
 */
function priceExact(definition: PricedDefinition, eventData: Record<string, unknown>, { given, listed, quantities }: ValidInput): PriceResult | undefined {
  const base = decimalParts(definition.baseCredits);
  if (!base) return undefined;
  const range = definition.multipliers.complexity;

  let complexity: number;
  let complexitySource: PriceBreakdown['complexitySource'];
  let factor: number;
  // weighted = base * factor = wNum / (10^wScale * wDen)
  let wNum: number;
  let wScale: number;
  let wDen = 1;
  const times = (f: number): boolean => {
    const parts = decimalParts(f);
    if (!parts) return false;
    wNum = base[0] * parts[0];
    wScale = base[1] + parts[1];
    return safe(wNum) && wScale < POW10.length;
  };

  if (range === null) {
    complexitySource = 'none';
    complexity = given ?? 1;
    factor = 1;
    wNum = base[0];
    wScale = base[1];
  } else if (given !== null) {
    // Double order is the order of the shortest decimals Big compares, so the clamp is the same.
    const clamped = given < range.min ? range.min : given > range.max ? range.max : given;
    complexitySource = 'given';
    complexity = given;
    factor = clamped + 0; // Number(Big('-0').toString()) is 0, not -0
    if (!times(clamped)) return undefined;
  } else {
    const numerator = derivedNumerator(eventData);
    complexitySource = 'derived';
    // numerator / 2250 rounded half-up to 4 decimals = round(numerator * 40 / 9); its digits after the 4th are
    // k/9, never a half, so Big's 20-place quotient rounds the same way.
    const display = Math.floor((80 * numerator + 9) / 18) / 10_000;
    complexity = display;
    const min = decimalParts(range.min);
    const max = decimalParts(range.max);
    if (!min || !max) return undefined;
    // numerator / 2250 < min  <=>  numerator * 10^k < mantissa * 2250, exactly (when all four are safe).
    const [nMin, lMin, nMax, lMax] = [numerator * POW10[min[1]], min[0] * DERIVED_DENOMINATOR, numerator * POW10[max[1]], max[0] * DERIVED_DENOMINATOR];
    if (!safe(nMin) || !safe(lMin) || !safe(nMax) || !safe(lMax)) return undefined;
    if (nMin < lMin) {
      factor = range.min + 0;
      if (!times(range.min)) return undefined;
    } else if (nMax > lMax) {
      factor = range.max + 0;
      if (!times(range.max)) return undefined;
    } else {
      factor = display;
      wNum = base[0] * numerator;
      wScale = base[1];
      wDen = DERIVED_DENOMINATOR;
      if (!safe(wNum)) return undefined;
    }
  }

  // Bonuses and unit charges are decimals: [mantissa, decimals] each, summed below at one scale.
  const parts: Array<[number, number]> = [];
  const enabled: [string, number][] = [];
  for (const [name, bonus] of Object.entries(definition.multipliers.features)) {
    if (eventData[name] === true || listed.has(name)) {
      enabled.push([name, bonus]);
      const b = decimalParts(bonus);
      if (!b) return undefined;
      parts.push(b);
    }
  }
  const rates = definition.units ?? {};
  const hasUnits = Object.keys(rates).length > 0;
  const unitCharges: NonNullable<PriceBreakdown['units']> = {};
  let unitsNum = 0;
  let unitsScale = 0;
  for (const [name, quantity, rate] of quantities) {
    const r = decimalParts(rate);
    if (!r) return undefined;
    const charge = quantity * r[0];
    if (!safe(charge) || r[1] >= POW10.length) return undefined;
    // Scale the running sum up to the finer of the two.
    if (r[1] > unitsScale) {
      unitsNum *= POW10[r[1] - unitsScale];
      unitsScale = r[1];
      if (!safe(unitsNum)) return undefined;
    }
    const scaled = charge * POW10[unitsScale - r[1]];
    unitsNum += scaled;
    if (!safe(scaled) || !safe(unitsNum)) return undefined;
    parts.push([charge, r[1]]);
    // charge / 10^k is the correctly rounded double of the exact decimal, as Number(Big.toString()) is.
    Object.defineProperty(unitCharges, name, { value: { quantity, creditsPerUnit: rate, credits: charge / POW10[r[1]] }, enumerable: true, writable: true, configurable: true });
  }

  // sum = (wNum * 10^(S - wScale) + wDen * Σ part * 10^(S - scale)) / (10^S * wDen), S the finest scale.
  let scale = wScale!;
  for (const [, k] of parts) if (k > scale) scale = k;
  if (scale >= POW10.length) return undefined;
  let num = wNum! * POW10[scale - wScale!];
  if (!safe(num)) return undefined;
  for (const [m, k] of parts) {
    const term = wDen * m * POW10[scale - k];
    num += term;
    if (!safe(term) || !safe(num)) return undefined;
  }
  // In micro-credits: num * 10^(6 - S) / (wDen * 10^(S - 6)), rounded half-up (a negative sum charges 0).
  const a = scale < 6 ? num * POW10[6 - scale] : num;
  const d = scale > 6 ? wDen * POW10[scale - 6] : wDen;
  if (!safe(a) || !safe(d) || !safe(2 * d)) return undefined;
  let micros = 0;
  if (a > 0) {
    const rest = a % d; // exact on safe integers
    micros = (a - rest) / d + (2 * rest >= d ? 1 : 0);
  }
  // Out of range is priceBig's to word (AMOUNT_OUT_OF_BOUNDS with the price).
  if (!safe(micros) || micros > MAX_EVENT_MICROS) return undefined;
  const credits = hundredthsFromMicros(micros);

  return {
    micros,
    credits,
    breakdown: {
      baseCredits: definition.baseCredits,
      complexity,
      complexitySource,
      factor,
      featureBonuses: Object.fromEntries(enabled),
      ...(hasUnits ? { units: unitCharges, unitCredits: unitsNum / POW10[unitsScale] } : {}),
      total: credits / 100,
      version: definition.version,
    },
  };
}

function priceBig(definition: PricedDefinition, eventData: Record<string, unknown>, { given, listed, quantities }: ValidInput): PriceResult {
  const rates = definition.units ?? {};
  const base = new Big(String(definition.baseCredits));
  const range = definition.multipliers.complexity;

  let complexity: number;
  let complexitySource: PriceBreakdown['complexitySource'];
  let factor: number;
  let weighted: Big; // base * factor, exact

  if (range === null) {
    // Nothing to derive; a given value is still reported for the audit trail.
    complexitySource = 'none';
    complexity = given ?? 1;
    factor = 1;
    weighted = base;
  } else {
    const min = new Big(String(range.min));
    const max = new Big(String(range.max));
    if (given !== null) {
      const value = new Big(String(given));
      const clamped = value.lt(min) ? min : value.gt(max) ? max : value;
      complexitySource = 'given';
      complexity = given;
      factor = displayNumber(clamped, true);
      weighted = base.times(clamped);
    } else {
      const numerator = new Big(derivedNumerator(eventData));
      // Compare as fractions so the clamp is exact too.
      const scaledMin = min.times(DERIVED_DENOMINATOR);
      const scaledMax = max.times(DERIVED_DENOMINATOR);
      complexitySource = 'derived';
      complexity = displayNumber(numerator.div(DERIVED_DENOMINATOR), false);
      if (numerator.lt(scaledMin)) {
        factor = displayNumber(min, true);
        weighted = base.times(min);
      } else if (numerator.gt(scaledMax)) {
        factor = displayNumber(max, true);
        weighted = base.times(max);
      } else {
        factor = displayNumber(numerator.div(DERIVED_DENOMINATOR), false);
        weighted = base.times(numerator).div(DERIVED_DENOMINATOR);
      }
    }
  }

  // Iterate the definition's features so unknown names in eventData are ignored and each counts once.
  const enabled: [string, number][] = [];
  let bonuses = new Big(0);
  for (const [name, bonus] of Object.entries(definition.multipliers.features)) {
    if (eventData[name] === true || listed.has(name)) {
      enabled.push([name, bonus]);
      bonuses = bonuses.plus(new Big(String(bonus)));
    }
  }

  // Σ quantity × rate, exact: a rate has at most 6 decimals and a quantity is whole, so every product is an
  // exact decimal; only the final sum is rounded (roundHalfUp2), never a part.
  const unitCharges: NonNullable<PriceBreakdown['units']> = {};
  let unitsTotal = new Big(0);
  for (const [name, quantity, rate] of quantities) {
    const charge = new Big(quantity).times(new Big(String(rate)));
    unitsTotal = unitsTotal.plus(charge);
    Object.defineProperty(unitCharges, name, { value: { quantity, creditsPerUnit: rate, credits: Number(charge.toString()) }, enumerable: true, writable: true, configurable: true });
  }

  let sum = weighted.plus(bonuses).plus(unitsTotal);
  if (sum.lt(0)) sum = new Big(0); // only a malformed definition could get here; never charge negative
  const micros = Number(sum.times(1_000_000).round(0, Big.roundHalfUp).toFixed(0));
  if (!Number.isSafeInteger(micros) || micros > MAX_EVENT_MICROS) {
    // The caller's input (quantities, a given complexity) priced the event past its bound: a 4xx naming it,
    // before anything is written. The price itself only in words: it may be far beyond a safe integer.
    throw amountOutOfBounds('eventCredits', { field: quantities.length > 0 ? 'eventData.units' : 'eventData', price: sum.round(2, Big.roundHalfUp).toFixed(2) });
  }
  const credits = hundredthsFromMicros(micros);

  return {
    micros,
    credits,
    breakdown: {
      baseCredits: definition.baseCredits,
      complexity,
      complexitySource,
      factor,
      // fromEntries defines own properties, so even a feature named "__proto__" stays data.
      featureBonuses: Object.fromEntries(enabled),
      // Only for a definition that prices units: every other breakdown reads as it always did.
      ...(Object.keys(rates).length > 0 ? { units: unitCharges, unitCredits: Number(unitsTotal.toString()) } : {}),
      total: hundredthsToNumber(credits),
      version: definition.version,
    },
  };
}
