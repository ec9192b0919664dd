import Big from 'big.js';

/** A decimal as an exact fraction `n / 10^scale`; null for what is not a plain decimal (exponent forms). */
function exact(value: string | number): { n: bigint; scale: number } | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(typeof value === 'number' ? String(value) : value.trim());
  if (!m) return null;
  const fraction = m[3] ?? '';
  return { n: BigInt(`${m[1]}${m[2]}${fraction}`), scale: fraction.length };
}

const TEN = BigInt(10);

/**
 * Did use go from `before` to `after` across `threshold` (a fraction) of `limit`: before < limit × threshold
 * <= after. Exact: decimals are compared as integers at a common scale (BigInt), so 0.1 + 0.2 of 0.375 is 80 %
 * exactly; this runs for every threshold of every accepted event, where a Big per figure was a tenth of a
 * batch's CPU. Anything that is not a plain decimal goes the Big way.
 */
export function crossesMark(limit: string | number, threshold: number, before: string | number, after: string | number): boolean {
  const l = exact(limit);
  const t = exact(threshold);
  const b = exact(before);
  const a = exact(after);
  if (!l || !t || !b || !a) {
    const mark = new Big(limit).times(threshold);
    return new Big(before).lt(mark) && new Big(after).gte(mark);
  }
  const scale = Math.max(b.scale, a.scale, l.scale + t.scale);
  const at = (x: { n: bigint; scale: number }) => x.n * TEN ** BigInt(scale - x.scale);
  const mark = l.n * t.n * TEN ** BigInt(scale - l.scale - t.scale);
  return at(b) < mark && at(a) >= mark;
}

/**
 * The thresholds (in their order) whose mark `limit` × threshold use went across from `before` to `after`:
 * `crossesMark` for each, decided by floating point where that cannot be wrong and exactly where it could.
 * This runs for every accepted event (3 or more marks each, a drained batch's thousands): most marks are far
 * from both figures, and a double is within 1e-15 of each decimal (and of the mark), so a comparison clear by
 * 1e-9 of the magnitudes involved is the exact one's answer; only a figure that near a mark (or not a number
 * at all) is compared exactly. Parsing four decimals into BigInts per mark was 6 % of a drain's CPU.
 */
export function marksCrossed(limit: string | number, thresholds: readonly number[], before: string | number, after: string | number): number[] {
  const crossed: number[] = [];
  const l = Number(limit);
  const b = Number(before);
  const a = Number(after);
  for (const t of thresholds) {
    const mark = l * t;
    const margin = 1e-9 * (1 + Math.abs(mark) + Math.abs(b) + Math.abs(a));
    if (b < mark - margin && a >= mark + margin) crossed.push(t);
    else if (b >= mark + margin || a < mark - margin) continue;
    // Near the mark, or NaN (every comparison above is false): the exact comparison decides.
    else if (crossesMark(limit, t, before, after)) crossed.push(t);
  }
  return crossed;
}

/** A figure of a warning: the decimal rounded half-up to 2 places, as a JSON number. */
export function warningFigure(value: string | number): number {
  return Number(new Big(value).toFixed(2));
}

/** A positive limit (a zero or negative one has no thresholds). */
export function isPositive(value: string | number): boolean {
  // A finite double other than 0 has the decimal's sign (a 0 may be a decimal too small for a double).
  const d = Number(value);
  if (Number.isFinite(d) && d !== 0) return d > 0;
  const x = exact(value);
  return x ? x.n > BigInt(0) : new Big(value).gt(0);
}
