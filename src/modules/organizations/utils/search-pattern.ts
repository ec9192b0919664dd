/**
 * An ILIKE pattern that finds `q` anywhere in a value, with LIKE's own wildcards (`%`, `_`) and the escape
 * character taken literally: a search for "50%" finds "50%" only.
 */
export function containsPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
