import { microsFromDecimalString, microsToDecimalString } from '../../../common/money/credits';
import type { ConsumeResult, HoldExtension } from '../../ledger/ledger.types';
import type { ReservationRow } from '../../ledger/ledger.types';

export type { HoldExtension } from '../../ledger/ledger.types';

/**
 * Adds an extension's debit to its hold, exactly (micro-credits, never floats). Takes of one grant or one
 * budget window are summed into one, so the commit that takes the hold over writes one consumption per grant
 * and the refund gives each back once: the hold reads as if it had been taken in one debit.
 */
export function mergeExtension(res: Pick<ReservationRow, 'credits' | 'from_allowance' | 'from_grants' | 'overage' | 'overage_cost' | 'grant_takes' | 'budget_takes'>, debit: ConsumeResult, extraMicros: number, eventData: Record<string, unknown>, expiresAt: Date): HoldExtension {
  const add = (a: string | number | null | undefined, b: string | number | null | undefined) => microsToDecimalString(microsFromDecimalString(String(a ?? '0')) + microsFromDecimalString(String(b ?? '0')));
  const grants = new Map<string, string>();
  for (const t of [...((res.grant_takes as ConsumeResult['grant_takes'] | null) ?? []), ...(debit.grant_takes ?? [])]) grants.set(t.grantId, add(grants.get(t.grantId), t.credits));
  const budgets = new Map<string, NonNullable<ConsumeResult['budget_takes']>[number]>();
  for (const t of [...(res.budget_takes ?? []), ...(debit.budget_takes ?? [])]) {
    const k = `${t.budgetId}|${t.window}`;
    const before = budgets.get(k);
    budgets.set(k, before ? { ...before, after: t.after, credits: add(before.credits, t.credits) } : { ...t });
  }
  return {
    credits: add(res.credits, microsToDecimalString(extraMicros)),
    from_allowance: add(res.from_allowance, debit.from_allowance),
    from_grants: add(res.from_grants, debit.from_grants),
    overage: add(res.overage, debit.overage),
    // Unrounded USD at the rate of each debit: summed as decimals, never through a float.
    overage_cost: addDecimal(res.overage_cost ?? '0', debit.overage_cost ?? '0'),
    grant_takes: [...grants].map(([grantId, credits]) => ({ grantId, credits })),
    budget_takes: [...budgets.values()],
    consumed_after: debit.consumed_after,
    remaining_after: debit.remaining,
    event_data: eventData,
    expires_at: expiresAt,
  };
}

/** The exact sum of two non-negative decimal strings of any scale. */
export function addDecimal(a: string, b: string): string {
  const [ai, af = ''] = a.split('.');
  const [bi, bf = ''] = b.split('.');
  const scale = Math.max(af.length, bf.length);
  const sum = BigInt(ai + af.padEnd(scale, '0')) + BigInt(bi + bf.padEnd(scale, '0'));
  if (scale === 0) return sum.toString();
  const digits = sum.toString().padStart(scale + 1, '0');
  return `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}
