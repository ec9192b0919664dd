import { addFieldError, FieldErrors } from '../errors/domain-error';
import { hasAtMostTwoDecimals } from '../money/credits';

/**
 * Small field validators for JSON documents whose shape class-validator cannot express well (maps of
 * feature bonuses, cross-field rules). Each records one message per bad field and returns the clean value.
 */
export const SLUG = /^[a-z][a-z0-9_]{1,63}$/;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

export class JsonChecker {
  readonly errors: FieldErrors = {};

  constructor(private readonly prefix = '') {}

  path(field: string): string {
    return this.prefix ? `${this.prefix}.${field}` : field;
  }

  fail(field: string, message: string): undefined {
    addFieldError(this.errors, this.path(field), message);
    return undefined;
  }

  get ok(): boolean {
    return Object.keys(this.errors).length === 0;
  }

  unknownFields(value: Record<string, unknown>, allowed: readonly string[], at = ''): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail(at ? `${at}.${key}` : key, `${key} is not a known field`);
    }
  }

  string(value: unknown, field: string, opts: { min?: number; max: number; pattern?: RegExp; patternText?: string }): string | undefined {
    if (typeof value !== 'string') return this.fail(field, `${field} must be a string`);
    if (value.length < (opts.min ?? 0)) return this.fail(field, `${field} must not be empty`);
    if (value.length > opts.max) return this.fail(field, `${field} must be at most ${opts.max} characters`);
    if (opts.pattern && !opts.pattern.test(value)) return this.fail(field, `${field} must match ${opts.patternText ?? opts.pattern.source}`);
    return value;
  }

  /** A non-negative amount with at most two decimals (credits, USD). */
  amount(value: unknown, field: string, max = 1_000_000_000): number | undefined {
    if (typeof value !== 'number' || !Number.isFinite(value)) return this.fail(field, `${field} must be a number`);
    if (value < 0) return this.fail(field, `${field} must be >= 0`);
    if (value > max) return this.fail(field, `${field} must be <= ${max}`);
    if (!hasAtMostTwoDecimals(value)) return this.fail(field, `${field} must have at most 2 decimals`);
    return value;
  }

  integer(value: unknown, field: string, min: number, max: number): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value)) return this.fail(field, `${field} must be a whole number`);
    if (value < min || value > max) return this.fail(field, `${field} must be from ${min} to ${max}`);
    return value;
  }

  number(value: unknown, field: string, min: number, max: number): number | undefined {
    if (typeof value !== 'number' || !Number.isFinite(value)) return this.fail(field, `${field} must be a number`);
    if (value < min || value > max) return this.fail(field, `${field} must be from ${min} to ${max}`);
    return value;
  }

  boolean(value: unknown, field: string): boolean | undefined {
    if (typeof value !== 'boolean') return this.fail(field, `${field} must be true or false`);
    return value;
  }

  object(value: unknown, field: string): Record<string, unknown> | undefined {
    if (!isPlainObject(value)) return this.fail(field, `${field} must be an object`);
    return value;
  }
}
