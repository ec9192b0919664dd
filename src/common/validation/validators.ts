import { registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';
import { hasAtMostTwoDecimals } from '../money/credits';

/**
 * Optional, but not nullable: `@IsOptional()` also lets `null` through to columns that are NOT NULL. With
 * this, an absent field is skipped and a `null` one is validated (and refused) like any other value.
 */
export const IsOptionalNotNull = (): PropertyDecorator => ValidateIf((_, value) => value !== undefined);

/**
 * A finite number with at most two decimals (credits, USD). class-validator's `maxDecimalPlaces` throws on
 * numbers JavaScript prints in exponent form (1e-7, 1e21): this answers false instead.
 */
export function IsAmount(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isAmount',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: `${String(propertyName)} must be a number with at most 2 decimals`, ...options },
      validator: { validate: (value: unknown) => typeof value === 'number' && hasAtMostTwoDecimals(value) },
    });
  };
}

/** A calendar day YYYY-MM-DD between 2000-01-01 and 2199-12-31 that exists (no 2026-02-30). */
export function IsDay(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isDay',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: `${String(propertyName)} must be a date YYYY-MM-DD between 2000 and 2199`, ...options },
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string' || !/^(20|21)\d{2}-\d{2}-\d{2}$/.test(value)) return false;
          const date = new Date(`${value}T00:00:00.000Z`);
          return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
        },
      },
    });
  };
}
