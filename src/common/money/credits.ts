import Big from 'big.js';

/**
 * Two units, one for each job (docs/amounts-and-bounds.md):
 *  - the ledger keeps what an event costs to the millionth of a credit (`CreditMicros`, integer 10^-6 credits):
 *    an event's price in TypeScript (at most MAX_EVENT_CREDITS = 10^9 credits, 10^15 micros < 2^53), and in
 *    SQL every ledger amount (events, balances, rollups, top-ups, holds) as `numeric(22,6)`, summed there;
 *  - what is shown or invoiced is rounded ONCE, half-up, to hundredths (`CreditHundredths`, a safe integer
 *    `number`): a total read from SQL, a line of a report, a response figure.
 * No binary floating point touches an amount: conversions go through decimal strings and integers.
 */
export type CreditHundredths = number;
export type CreditMicros = number;

const DECIMAL_2 = /^-?\d+(\.\d{1,2})?$/;

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * Parses a `numeric` from pg ("25.00", "-3.5", "0.004900") or a decimal string into hundredths, rounded
 * half-up (away from zero) past the second decimal: this is where a ledger amount becomes a shown one, once.
 * Integer arithmetic only (it runs for every amount read from SQL): the integer part times 100 is exact below
 * 2^53, and any result at or above it fails the safe-integer check.
 */
export function hundredthsFromDecimalString(value: string): CreditHundredths {
  const match = DECIMAL.exec(value.trim());
  if (!match) throw new Error(`Not a decimal: ${value}`);
  const [, sign, int, frac = ''] = match;
  const up = frac.length > 2 && frac.charCodeAt(2) >= 53 /* '5' */ ? 1 : 0;
  const magnitude = Number(int) * 100 + Number(frac.slice(0, 2).padEnd(2, '0')) + up;
  if (!Number.isSafeInteger(magnitude)) throw new Error(`Amount out of range: ${value}`);
  return sign === '-' && magnitude !== 0 ? -magnitude : magnitude;
}

/** Parses a decimal string with at most 6 decimals (a ledger amount) into micro-credits, exactly. */
export function microsFromDecimalString(value: string): CreditMicros {
  const match = DECIMAL.exec(value.trim());
  if (!match) throw new Error(`Not a decimal: ${value}`);
  const [, sign, int, frac = ''] = match;
  if (frac.length > 6 && !/^0*$/.test(frac.slice(6))) throw new Error(`More than 6 decimals: ${value}`);
  const magnitude = Number(int) * 1_000_000 + Number(frac.slice(0, 6).padEnd(6, '0'));
  if (!Number.isSafeInteger(magnitude)) throw new Error(`Amount out of range: ${value}`);
  return sign === '-' && magnitude !== 0 ? -magnitude : magnitude;
}

/** Micro-credits to a SQL numeric literal string (4900 -> "0.004900"): integer digits only, exact. */
export function microsToDecimalString(value: CreditMicros): string {
  if (!Number.isSafeInteger(value)) throw new Error(`Not a whole number of micro-credits: ${value}`);
  const abs = Math.abs(value);
  const frac = abs % 1_000_000;
  return `${value < 0 ? '-' : ''}${(abs - frac) / 1_000_000}.${String(frac).padStart(6, '0')}`;
}

/** Micro-credits rounded half-up (away from zero) to hundredths: the one rounding of a shown figure. */
export function hundredthsFromMicros(value: CreditMicros): CreditHundredths {
  const abs = Math.abs(value);
  const rest = abs % 10_000;
  const magnitude = (abs - rest) / 10_000 + (rest >= 5_000 ? 1 : 0);
  return value < 0 && magnitude !== 0 ? -magnitude : magnitude;
}

/** A nullable `numeric` column (a missing row, a LEFT JOIN) into hundredths: absent counts as zero. */
export function hundredthsOrZero(value: string | number | null | undefined): CreditHundredths {
  return value === null || value === undefined ? 0 : hundredthsFromDecimalString(String(value));
}

/** True when a JSON number has at most two decimals (what the API accepts as an amount). */
export function hasAtMostTwoDecimals(value: number): boolean {
  if (!Number.isFinite(value)) return false;
  // String(0.29) is "0.29": JS prints the shortest decimal that round-trips, so this is exact.
  const text = Math.abs(value) < 1e21 ? String(value) : '';
  return text.includes('e') ? false : DECIMAL_2.test(text);
}

/** A JSON number with at most 2 decimals into hundredths. */
export function hundredthsFromNumber(value: number): CreditHundredths {
  if (!hasAtMostTwoDecimals(value)) throw new Error(`Not an amount with at most 2 decimals: ${value}`);
  return hundredthsFromDecimalString(String(value));
}

/** Hundredths to a JSON number for responses (2500 -> 25, 29 -> 0.29: the shortest form round-trips). */
export function hundredthsToNumber(value: CreditHundredths): number {
  // For a safe integer n, n / 100 is the double nearest to the exact decimal n/100, which is what
  // Number("<that decimal>") gives too: the same result without a Big per call (this runs per event).
  if (Number.isSafeInteger(value)) return value / 100 + 0; // + 0: Big answers 0 for -0
  return Number(new Big(value).div(100).toString());
}

/** Hundredths to a SQL numeric literal string ("25.00"). */
export function hundredthsToDecimalString(value: CreditHundredths): string {
  // Integer digits only, no division: -5 -> "-0.05", 2500 -> "25.00" (-0 and non-integers go through Big).
  if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
    const abs = Math.abs(value);
    const cents = abs % 100;
    return `${value < 0 ? '-' : ''}${(abs - cents) / 100}.${cents < 10 ? '0' : ''}${cents}`;
  }
  return new Big(value).div(100).toFixed(2);
}

/** A Big decimal rounded half-up to 2 decimals, into hundredths. */
export function hundredthsFromBig(value: Big): CreditHundredths {
  return Number(value.times(100).round(0, Big.roundHalfUp).toFixed(0));
}

/** USD amount rounded half-up to cents (shown or invoiced money), as a JSON number. */
export function roundUsd(value: Big): number {
  return Number(value.round(2, Big.roundHalfUp).toFixed(2));
}
