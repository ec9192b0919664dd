import Big from 'big.js';
import { hundredthsFromBig, hundredthsToNumber } from '../../../common/money/credits';
import type { CreditHundredths } from '../../../common/money/credits';
import { addFieldError, validationFailed } from '../../../common/errors/domain-error';
import type { FieldErrors } from '../../../common/errors/domain-error';
import type { EventDefinitionConfig } from '../../events/entities/event-definition.entity';
import type { PriceBreakdown } from '../../../../libs/contracts/src/tracking.types';

/** The credit formula of SPEC section 3, as a pure function. All arithmetic is Big: no binary floats. */

export const MAX_COMPLEXITY = 1_000_000;
/** The largest price of one event: what numeric(18,2) holds with room for sums (10^13 credits). */
export const MAX_EVENT_HUNDREDTHS = 1_000_000_000_000_000;

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

/** SPEC section 3: 1.0 up to 500 characters, rising linearly to 3.0 at 5,000 and beyond. */
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
  const rates = definition.units ?? {};
  const { given, listed, quantities } = validate(eventData, rates);
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
  const credits = hundredthsFromBig(sum);
  if (!Number.isSafeInteger(credits) || credits > MAX_EVENT_HUNDREDTHS) {
    // Only quantities can push a price this far (a definition's amounts are bounded): the caller's input.
    if (quantities.length > 0) throw validationFailed({ 'eventData.units': [`the quantities price the event above ${hundredthsToNumber(MAX_EVENT_HUNDREDTHS)} credits`] });
    throw new Error(`Credit amount out of range: ${sum.toString()}`);
  }

  return {
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
