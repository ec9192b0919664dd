// Number and date formatting, fixed to en-US and UTC so every viewer (and the browser tests) reads the
// same figures as the API and the periods (calendar months in UTC). No DOM here: tests import it.

const credits = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const DAY_MS = 86_400_000;

export function formatCredits(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : credits.format(value);
}

export function formatUsd(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : usd.format(value);
}

export function formatInt(value: number | null | undefined): string {
  return value === null || value === undefined ? 'unlimited' : integer.format(value);
}

/** 114.56 -> "114.6%"; the API's percentUsed is already a percentage. */
export function formatPercent(percent: number | null | undefined): string {
  if (percent === null || percent === undefined) return '–';
  return `${percent >= 100 || Number.isInteger(percent) ? Math.round(percent) : percent.toFixed(1)}%`;
}

/** A threshold fraction (0.8) as a percentage ("80%"). */
export function formatThreshold(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

/** "2026-11-28" or an ISO instant -> "Nov 28, 2026" (UTC). */
export function formatDate(value: string | null | undefined): string {
  if (!value) return '–';
  const date = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  return date.toLocaleDateString('en-US', { month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
}

/** An ISO instant -> "2026-11-28 01:58 UTC". */
export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '–';
  return `${new Date(value).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A period start -> "November 2026". */
export function formatMonth(periodStart: string): string {
  return new Date(periodStart).toLocaleDateString('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** The last day of a [start, end) period, as "Nov 30, 2026". */
export function formatPeriodLastDay(periodEnd: string): string {
  return formatDate(new Date(new Date(periodEnd).getTime() - DAY_MS).toISOString());
}

/** Fractional days to period end (the forecast's daysRemaining) as whole days left, today counted. */
export function wholeDaysLeft(daysRemaining: number): number {
  return Math.max(0, Math.ceil(daysRemaining - 1e-9));
}

/** "1 day" / "3 days". */
export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * A credit figure the API gives as a decimal string (runs: exact to the micro-credit, up to 10^10) shown
 * exactly: thousands grouped, at least 2 decimals, every further non-zero decimal kept ("1.028", never
 * rounded through a float). null (no budget) is "–"; anything that is not a decimal is shown as it came.
 */
export function formatCreditAmount(value: string | null | undefined): string {
  if (value === null || value === undefined) return '–';
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!match) return value;
  const [, sign, whole, fraction = ''] = match;
  const grouped = whole.replace(/^0+(?=\d)/, '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const decimals = fraction.replace(/0+$/, '').padEnd(2, '0');
  return `${sign}${grouped}.${decimals}`;
}
