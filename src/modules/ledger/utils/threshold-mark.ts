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
  // Most events are nowhere near a mark: decided in floating point when the figures are clear of it by far
  // more than a double's rounding (relative 1e-9 against ~1e-16 an operation), exactly only near it.
  const m = Number(limit) * threshold;
  const b0 = Number(before);
  const a0 = Number(after);
  if (Number.isFinite(m) && Number.isFinite(b0) && Number.isFinite(a0)) {
    const margin = Math.abs(m) * 1e-9 + 1e-9;
    if (a0 < m - margin || b0 > m + margin) return false;
    if (b0 < m - margin && a0 > m + margin) return true;
  }
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

/** A figure of a warning: the decimal rounded half-up to 2 places, as a JSON number. */
export function warningFigure(value: string | number): number {
  return Number(new Big(value).toFixed(2));
}

/** A positive limit (a zero or negative one has no thresholds). */
export function isPositive(value: string | number): boolean {
  const x = exact(value);
  return x ? x.n > BigInt(0) : new Big(value).gt(0);
}
