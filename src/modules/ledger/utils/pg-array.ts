/**
 * A PostgreSQL array literal (`{"a","b",NULL}`) of strings and numbers, for a parameter cast to a typed array
 * (`$1::text[]`, `$2::numeric[]`). The ledger's writes send every event column as one such array; node-postgres
 * builds the same literal with a string concatenation and two regular-expression replaces per element, which
 * for a drained batch (22 columns of thousands of events) was the service's largest allocation (a cons string
 * per concatenation): here each element is escaped only when it holds a quote or a backslash, and the
 * literal is joined once.
 */
export function pgArray(values: ReadonlyArray<string | number | null | undefined>): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      parts[i] = 'NULL';
      continue;
    }
    if (typeof v !== 'string' && typeof v !== 'number') throw new TypeError(`pgArray: ${typeof v} is not a string or a number`);
    const s = String(v);
    // Inside double quotes only a quote and a backslash need a backslash before them.
    parts[i] = s.includes('"') || s.includes('\\') ? `"${s.replace(/["\\]/g, '\\$&')}"` : `"${s}"`;
  }
  return `{${parts.join(',')}}`;
}
