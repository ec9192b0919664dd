// Money on the usage page, computed without the DOM (tests import it). Amounts are USD with cents; every
// split is done in whole cents with the largest-remainder method, so the parts add up to the whole exactly.

/** Splits `total` USD over `weights` in proportion, in cents, the parts summing exactly to the total. */
export function allocateUsd(total: number, weights: number[]): number[] {
  const cents = Math.round(total * 100);
  const sum = weights.reduce((s, w) => s + Math.max(0, w), 0);
  if (weights.length === 0) return [];
  if (sum === 0 || cents === 0) return weights.map(() => 0);
  const exact = weights.map((w) => (cents * Math.max(0, w)) / sum);
  const parts = exact.map((x) => Math.floor(x));
  let left = cents - parts.reduce((s, p) => s + p, 0);
  // The remainder goes to the largest fractional parts (ties: the larger weight, then list order).
  const order = exact.map((x, i) => ({ i, frac: x - Math.floor(x), w: weights[i] })).sort((a, b) => b.frac - a.frac || b.w - a.w || a.i - b.i);
  for (const o of order) {
    if (left <= 0) break;
    parts[o.i] += 1;
    left -= 1;
  }
  return parts.map((p) => p / 100);
}

export interface InvoiceInput {
  plan: string;
  planPrice: number;
  overageCredits: number;
  overageRate: number | null;
  overageCost: number;
  topUpCredits: number;
  total: number;
}

export interface LineItem {
  kind: 'plan' | 'overage' | 'topups' | 'total';
  label: string;
  detail: string;
  amount: number;
}

/**
 * The invoice as line items: the plan fee, the overage cost split by event type in proportion to each
 * type's overage credits (the invoice's recorded overage cost is the whole), the top-up credits used (prepaid:
 * no charge on this invoice), and the total.
 */
export function invoiceLineItems(inv: InvoiceInput, overageByType: { name: string; overageCredits: number }[], fmtCredits: (n: number) => string): LineItem[] {
  const withOverage = overageByType.filter((t) => t.overageCredits > 0);
  const lines: LineItem[] = [{ kind: 'plan', label: `Plan fee: ${inv.plan}`, detail: '', amount: inv.planPrice }];
  if (inv.overageCost > 0 || inv.overageCredits > 0) {
    const rate = inv.overageRate === null ? '' : ` × $${inv.overageRate}`;
    if (withOverage.length === 0) {
      lines.push({ kind: 'overage', label: 'Overage', detail: `${fmtCredits(inv.overageCredits)} credits${rate}`, amount: inv.overageCost });
    } else {
      const parts = allocateUsd(inv.overageCost, withOverage.map((t) => t.overageCredits));
      withOverage.forEach((t, i) => lines.push({ kind: 'overage', label: `Overage: ${t.name}`, detail: `${fmtCredits(t.overageCredits)} credits${rate}`, amount: parts[i] }));
    }
  }
  if (inv.topUpCredits > 0) lines.push({ kind: 'topups', label: 'Top-up credits used', detail: `${fmtCredits(inv.topUpCredits)} credits, prepaid`, amount: 0 });
  lines.push({ kind: 'total', label: 'Total', detail: '', amount: inv.total });
  return lines;
}

export interface CostRow {
  key: string;
  name: string;
  credits: number;
  cost: number;
  previousCredits: number | null;
  previousCost: number | null;
  /** Cost change against the previous period in percent; null when there is nothing to compare with. */
  changePercent: number | null;
}

/**
 * What each event type (or user) cost: its share of the period's invoice total, in proportion to its credits
 * (plan fee and overage alike, since every credit draws on what the period is billed), with the same for the
 * previous period.
 */
export function costRows(
  current: { key: string; name: string; credits: number }[],
  currentTotal: number,
  previous: { key: string; name: string; credits: number }[] | null,
  previousTotal: number | null,
): CostRow[] {
  const costs = allocateUsd(currentTotal, current.map((c) => c.credits));
  const prevCosts = previous && previousTotal !== null ? allocateUsd(previousTotal, previous.map((p) => p.credits)) : null;
  const prevByKey = new Map((previous ?? []).map((p, i) => [p.key, { credits: p.credits, cost: prevCosts ? prevCosts[i] : null }]));
  return current.map((c, i) => {
    const prev = prevByKey.get(c.key);
    const previousCost = previous === null ? null : (prev?.cost ?? 0);
    const changePercent = previousCost === null || previousCost === 0 ? null : Math.round(((costs[i] - previousCost) / previousCost) * 1000) / 10;
    return { key: c.key, name: c.name, credits: c.credits, cost: costs[i], previousCredits: previous === null ? null : (prev?.credits ?? 0), previousCost, changePercent };
  });
}

/** "YYYY-MM" of the month before a period start ("2026-12-01T…" -> "2026-11"). */
export function previousPeriod(periodStart: string): { key: string; from: string; to: string } {
  const d = new Date(periodStart);
  const start = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1));
  const end = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 0));
  return { key: start.toISOString().slice(0, 7), from: start.toISOString().slice(0, 10), to: end.toISOString().slice(0, 10) };
}

/** A decimal credit string ("20", "1.028") in micro-credits, exactly (the ledger's unit); null if not one. */
export function creditMicros(value: string): bigint | null {
  const match = /^(\d+)(?:\.(\d{1,6}))?$/.exec(value.trim());
  if (!match) return null;
  return BigInt(match[1]) * 1_000_000n + BigInt((match[2] ?? '').padEnd(6, '0'));
}

/**
 * How much of a run's budget its spend and its holds take, in percent (0 to 100 each, together at most 100,
 * to one decimal), computed in micro-credits so a 10^10 budget is as exact as a small one. `over` when spent
 * plus held reach the budget. null without a budget (nothing to draw against).
 */
export function budgetShare(spent: string, held: string, budget: string | null): { spent: number; held: number; used: number; over: boolean } | null {
  if (budget === null) return null;
  const b = creditMicros(budget);
  const s = creditMicros(spent);
  const hd = creditMicros(held);
  if (b === null || s === null || hd === null) return null;
  // A budget of 0: anything at all is over it, nothing is a full (empty) bar.
  if (b === 0n) return { spent: s > 0n ? 100 : 0, held: 0, used: s + hd > 0n ? 100 : 0, over: true };
  const tenths = (x: bigint) => Number((x * 1000n) / b) / 10;
  const spentPct = Math.min(100, tenths(s));
  const usedPct = Math.min(100, tenths(s + hd));
  return { spent: spentPct, held: Math.round((usedPct - spentPct) * 10) / 10, used: usedPct, over: s + hd >= b };
}
