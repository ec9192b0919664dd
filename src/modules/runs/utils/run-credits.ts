import Big from 'big.js';

const DECIMAL = /^\d{1,20}(\.\d{1,6})?$/;

/**
 * A run's credits as given: a JSON number or a decimal string, >= 0, at most 6 decimals (micro-credits, as
 * the ledger counts), never an exponent form (1e-7 is printed so by JavaScript and would hide a 7th decimal).
 */
export function isCreditsDecimal(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && DECIMAL.test(String(value));
  return typeof value === 'string' && DECIMAL.test(value);
}

/** The canonical decimal string of a valid credits value ("25", "0.0049"): exact, what SQL gets as numeric. */
export function creditsDecimal(value: number | string): string {
  return new Big(String(value)).toFixed();
}

/** A ledger numeric (pg gives it as a string, up to 10^16 with 6 decimals) as a plain decimal string, trailing zeros trimmed. */
export function shownCredits(value: string | null): string | null {
  return value === null ? null : new Big(value).toFixed();
}
