import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../../common/errors/domain-error';
import { validateEventDefinition } from './event-definition.validator';

const base = { eventType: 'llm_completion', displayName: 'LLM completion', category: 'ai_llm', baseCredits: 1 };

const fieldsOf = (input: unknown): Record<string, string[]> => {
  try {
    validateEventDefinition(input);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return ((error as DomainError).details as { fields: Record<string, string[]> }).fields;
  }
  throw new Error('expected VALIDATION_FAILED');
};

describe('validateEventDefinition: units and maxUnits', () => {
  it('keeps declared units and maxUnits', () => {
    const valid = validateEventDefinition({ ...base, units: { inputTokens: 0.002, outputTokens: 0.008, images: 4 }, maxUnits: { inputTokens: 8000, outputTokens: 2000 } });
    expect(valid.config.units).toEqual({ inputTokens: 0.002, outputTokens: 0.008, images: 4 });
    expect(valid.config.maxUnits).toEqual({ inputTokens: 8000, outputTokens: 2000 });
  });

  it.each([
    ['absent', {}],
    ['null', { units: null, maxUnits: null }],
    ['empty', { units: {}, maxUnits: {} }],
  ])('leaves a definition without units as before (%s: no units fields stored)', (_name, extra) => {
    const { config } = validateEventDefinition({ ...base, ...extra });
    expect(Object.keys(config)).not.toContain('units');
    expect(Object.keys(config)).not.toContain('maxUnits');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a negative rate', { units: { t: -0.1 } }, 'units.t'],
    ['a rate with 7 decimals', { units: { t: 0.0000001 } }, 'units.t'],
    ['a rate with 7 decimals, not in e-notation', { units: { t: 0.1234567 } }, 'units.t'],
    ['a rate above the largest', { units: { t: 1_000_001 } }, 'units.t'],
    ['a rate as a string', { units: { t: '0.1' } }, 'units.t'],
    ['a unit name that is not an identifier', { units: { 'input tokens': 0.1 } }, 'units.input tokens'],
    ['units as an array', { units: [0.1] }, 'units'],
    ['maxUnits for an undeclared unit', { units: { t: 0.1 }, maxUnits: { other: 5 } }, 'maxUnits.other'],
    ['maxUnits without units', { maxUnits: { t: 5 } }, 'maxUnits.t'],
    ['a fractional maxUnits', { units: { t: 0.1 }, maxUnits: { t: 2.5 } }, 'maxUnits.t'],
    ['a negative maxUnits', { units: { t: 0.1 }, maxUnits: { t: -1 } }, 'maxUnits.t'],
    ['a feature named units', { multipliers: { features: { units: 1 } } }, 'multipliers.features.units'],
  ])('refuses %s with a message on its field', (_name, extra, field) => {
    expect(Object.keys(fieldsOf({ ...base, ...extra }))).toContain(field);
  });

  it('accepts six decimals, including 0.000001 (printed 1e-6)', () => {
    expect(validateEventDefinition({ ...base, units: { a: 0.000001, b: 0.123456 } }).config.units).toEqual({ a: 0.000001, b: 0.123456 });
  });

  it('refuses a unit named __proto__ (not an identifier) without touching any prototype', () => {
    expect(Object.keys(fieldsOf({ ...base, units: JSON.parse('{"__proto__": 0.5}') }))).toEqual(['units.__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
