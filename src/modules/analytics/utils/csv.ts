/**
 * RFC 4180 CSV. Text a client controls (user ids, idempotency keys, endpoints) could start with `=`, `+`,
 * `-` or `@` and run as a formula when a spreadsheet opens the export: such text is prefixed with `'`.
 * Numbers are written as they are.
 */
export type CsvValue = string | number | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: CsvValue[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
