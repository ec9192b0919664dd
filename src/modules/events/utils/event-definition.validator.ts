import { validationFailed } from '../../../common/errors/domain-error';
import { JsonChecker, SLUG } from '../../../common/validation/json-validators';
import type { EventDefinitionConfig } from '../entities/event-definition.entity';
import { LIMIT_NAME, MAX_COUNTS_TOWARD, NON_COUNT_LIMIT_KEYS } from '../../plans/entities/plan-definition.entity';
import { MAX_UNIT_QUANTITY } from '../../usage/utils/credit-calculator';

/** The count limits of the seed's plans. Any other identifier is accepted too: a limit an operator adds. */
export const EVENT_LIMIT_KEYS = ['aiCallsPerMonth', 'pdfExportsPerMonth', 'sessionLimit'] as const;

const FIELDS = ['eventType', 'displayName', 'description', 'category', 'baseCredits', 'endpoint', 'multipliers', 'countsToward', 'limitKey', 'metadata', 'units', 'maxUnits', 'isActive', 'version', 'createdAt', 'updatedAt'] as const;
const MAX_METADATA_BYTES = 8 * 1024;
/** Names a feature may not take: eventData fields the formula reads for something else. */
const RESERVED_FEATURE_NAMES = ['complexity', 'features', 'inputText', 'input', 'units'];
const UNIT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** Most units an event definition may price. */
export const MAX_UNIT_KINDS = 32;
/** The highest rate: a million credits per unit. Rates have at most 6 decimals (0.000001 credits a unit). */
export const MAX_UNIT_RATE = 1_000_000;
export const UNIT_RATE_DECIMALS = 6;


export interface ValidEventDefinition {
  eventType: string;
  config: EventDefinitionConfig;
  isActive: boolean;
}

/**
 * Validates a whole event definition (docs/configuration-api.md). Returns it normalized (defaults filled in) or throws
 * VALIDATION_FAILED with one message per bad field. `version`, `createdAt` and `updatedAt` are accepted so a
 * definition read from the API can be sent back, but the server owns them and ignores what is sent.
 */
export function validateEventDefinition(input: unknown, fallbackIsActive = true): ValidEventDefinition {
  const c = new JsonChecker();
  const doc = c.object(input, 'definition');
  if (!doc) throw validationFailed(c.errors, 'Invalid event definition');
  c.unknownFields(doc, FIELDS);

  const eventType = c.string(doc.eventType, 'eventType', { min: 2, max: 64, pattern: SLUG, patternText: 'a slug like structuring_diagnose (^[a-z][a-z0-9_]{1,63}$)' });
  const displayName = c.string(doc.displayName, 'displayName', { min: 1, max: 200 });
  const description = doc.description === undefined ? '' : c.string(doc.description, 'description', { max: 2000 });
  const category = c.string(doc.category, 'category', { min: 2, max: 64, pattern: SLUG, patternText: 'a slug like ai_analysis' });
  const baseCredits = c.amount(doc.baseCredits, 'baseCredits');
  const endpoint = doc.endpoint === undefined || doc.endpoint === null ? null : c.string(doc.endpoint, 'endpoint', { min: 1, max: 500, pattern: /^\/\S*$/, patternText: 'a path starting with /' });
  const countsToward = validateCountsToward(c, doc.countsToward, doc.limitKey);
  const isActive = doc.isActive === undefined ? fallbackIsActive : c.boolean(doc.isActive, 'isActive');

  let metadata: Record<string, unknown> | undefined = {};
  if (doc.metadata !== undefined && doc.metadata !== null) {
    metadata = c.object(doc.metadata, 'metadata');
    if (metadata && JSON.stringify(metadata).length > MAX_METADATA_BYTES) c.fail('metadata', `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`);
  }

  let multipliers: EventDefinitionConfig['multipliers'] | undefined = { complexity: null, features: {} };
  if (doc.multipliers !== undefined && doc.multipliers !== null) {
    const m = c.object(doc.multipliers, 'multipliers');
    if (m) {
      c.unknownFields(m, ['complexity', 'features'], 'multipliers');
      let complexity: { min: number; max: number } | null = null;
      if (m.complexity !== undefined && m.complexity !== null) {
        const cx = c.object(m.complexity, 'multipliers.complexity');
        if (cx) {
          c.unknownFields(cx, ['min', 'max'], 'multipliers.complexity');
          const min = c.number(cx.min, 'multipliers.complexity.min', 1, 10);
          const max = c.number(cx.max, 'multipliers.complexity.max', 1, 10);
          if (min !== undefined && max !== undefined) {
            if (min > max) c.fail('multipliers.complexity', 'multipliers.complexity.min must be <= multipliers.complexity.max');
            else complexity = { min, max };
          }
        }
      }
      const features: Record<string, number> = {};
      if (m.features !== undefined && m.features !== null) {
        const f = c.object(m.features, 'multipliers.features');
        if (f) {
          for (const [name, bonus] of Object.entries(f)) {
            if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) c.fail(`multipliers.features.${name}`, 'feature names must be identifiers of at most 64 characters');
            else if (RESERVED_FEATURE_NAMES.includes(name)) c.fail(`multipliers.features.${name}`, `${name} is reserved and cannot be a feature`);
            const value = c.amount(bonus, `multipliers.features.${name}`);
            if (value !== undefined) features[name] = value;
          }
        }
      }
      multipliers = { complexity, features };
    }
  }

  const units = validateUnits(c, doc.units);
  const maxUnits = validateMaxUnits(c, doc.maxUnits, units);

  if (!c.ok) throw validationFailed(c.errors, 'Invalid event definition');
  return {
    eventType: eventType!,
    isActive: isActive!,
    config: {
      displayName: displayName!,
      description: description!,
      category: category!,
      baseCredits: baseCredits!,
      endpoint: endpoint ?? null,
      multipliers: multipliers!,
      countsToward: countsToward ?? [],
      limitKey: countsToward?.[0] ?? null,
      metadata: metadata!,
      // Only when declared: a definition without units reads exactly as it did before units existed.
      ...(units && Object.keys(units).length > 0 ? { units } : {}),
      ...(maxUnits && Object.keys(maxUnits).length > 0 ? { maxUnits } : {}),
    },
  };
}

/** True when a rate has at most UNIT_RATE_DECIMALS decimals, read from its shortest decimal form (exact). */
function hasAtMostRateDecimals(value: number): boolean {
  const text = String(value);
  if (/e/i.test(text)) {
    // String() switches to e-notation below 1e-6: 1e-6 itself is the one such value with 6 decimals.
    return value === 0.000001;
  }
  const [, fraction = ''] = text.split('.');
  return fraction.length <= UNIT_RATE_DECIMALS;
}

/** `units: {name: creditsPerUnit}`: identifiers, rates >= 0 with at most 6 decimals. */
function validateUnits(c: JsonChecker, value: unknown): Record<string, number> | undefined {
  if (value === undefined || value === null) return {};
  const u = c.object(value, 'units');
  if (!u) return undefined;
  const names = Object.keys(u);
  if (names.length > MAX_UNIT_KINDS) c.fail('units', `units must name at most ${MAX_UNIT_KINDS} quantities`);
  const units: Record<string, number> = {};
  for (const [name, rate] of Object.entries(u)) {
    const field = `units.${name}`;
    if (!UNIT_NAME.test(name)) {
      c.fail(field, 'unit names must be identifiers of at most 64 characters');
      continue;
    }
    if (typeof rate !== 'number' || !Number.isFinite(rate)) c.fail(field, `${field} must be a number (credits per unit)`);
    else if (rate < 0) c.fail(field, `${field} must be >= 0`);
    else if (rate > MAX_UNIT_RATE) c.fail(field, `${field} must be <= ${MAX_UNIT_RATE}`);
    else if (!hasAtMostRateDecimals(rate)) c.fail(field, `${field} must have at most ${UNIT_RATE_DECIMALS} decimals`);
    else Object.defineProperty(units, name, { value: rate, enumerable: true, writable: true, configurable: true });
  }
  return units;
}

/** `maxUnits: {name: wholeUnits}`: only declared units, whole numbers from 0 to MAX_UNIT_QUANTITY. */
function validateMaxUnits(c: JsonChecker, value: unknown, units: Record<string, number> | undefined): Record<string, number> | undefined {
  if (value === undefined || value === null) return {};
  const m = c.object(value, 'maxUnits');
  if (!m) return undefined;
  const max: Record<string, number> = {};
  for (const [name, quantity] of Object.entries(m)) {
    const field = `maxUnits.${name}`;
    if (units && !Object.prototype.hasOwnProperty.call(units, name)) {
      c.fail(field, `${name} is not one of the definition's units`);
      continue;
    }
    const q = c.integer(quantity, field, 0, MAX_UNIT_QUANTITY);
    if (q !== undefined) Object.defineProperty(max, name, { value: q, enumerable: true, writable: true, configurable: true });
  }
  return max;
}

/**
 * countsToward: one limit name or a list of them (each counted once per event); `limitKey` is its old
 * spelling (one name or null). Both may be sent only when they agree, as a definition read from the API does
 * (its limitKey is countsToward's first name). A name no plan bounds is accepted: events count toward it, and
 * a plan that names it later bounds what was counted in the period.
 */
function validateCountsToward(c: JsonChecker, raw: unknown, oldSpelling: unknown): string[] | undefined {
  const given = raw !== undefined && raw !== null;
  const names: unknown[] = !given ? (oldSpelling === undefined || oldSpelling === null ? [] : [oldSpelling]) : Array.isArray(raw) ? raw : [raw];
  const field = given ? 'countsToward' : 'limitKey';
  if (names.length > MAX_COUNTS_TOWARD) return c.fail(field, `countsToward may name at most ${MAX_COUNTS_TOWARD} limits`);
  const out: string[] = [];
  names.forEach((name, i) => {
    const at = Array.isArray(raw) ? `${field}[${i}]` : field;
    if (typeof name !== 'string' || !LIMIT_NAME.test(name)) c.fail(at, 'a limit name is an identifier of at most 64 characters (^[a-z][A-Za-z0-9_]{0,63}$)');
    else if (NON_COUNT_LIMIT_KEYS.includes(name)) c.fail(at, `${name} is not a count of events: no event counts toward it`);
    else if (out.includes(name)) c.fail(at, `${name} is named twice`);
    else out.push(name);
  });
  if (given && oldSpelling !== undefined && oldSpelling !== null && oldSpelling !== out[0]) c.fail('limitKey', 'limitKey is the old spelling of countsToward: send one, or both agreeing (limitKey = the first name)');
  return out;
}
