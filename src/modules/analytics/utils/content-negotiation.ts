import type { ExportFormat } from '../dto/analytics-query.dto';

/** CSV when asked by `format=csv`, or by `Accept: text/csv` unless `format=json` says otherwise. */
export function wantsCsv(format: ExportFormat | undefined, accept: string | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  return (accept ?? '')
    .split(',')
    .map((part) => part.split(';')[0].trim().toLowerCase())
    .includes('text/csv');
}
