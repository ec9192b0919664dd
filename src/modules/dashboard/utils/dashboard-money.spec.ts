import { describe, expect, it } from '@jest/globals';
// The usage page's money helpers (dashboard/src/money.ts), tested where the unit project runs.
import type { AlertKind } from '../../jobs/reconciliation/reconciliation.repository';
import { alertMeaning, ALERT_MEANINGS } from '../../../../dashboard/src/alerts';
import { allocateUsd, budgetShare, costRows, creditMicros, invoiceLineItems, previousPeriod } from '../../../../dashboard/src/money';

const sum = (xs: number[]) => Math.round(xs.reduce((s, x) => s + x * 100, 0)) / 100;

describe('allocateUsd', () => {
  it.each<[number, number[], number[]]>([
    [10, [1, 1, 1], [3.34, 3.33, 3.33]],
    [0.01, [1, 1], [0.01, 0]],
    [3.44, [172], [3.44]],
    [100, [0, 0], [0, 0]],
    [0, [5, 5], [0, 0]],
    [21.91, [50, 30, 20], [10.96, 6.57, 4.38]],
    [5, [2, -1, 2], [2.5, 0, 2.5]],
    [1, [], []],
  ])('%p over %p is %p', (total, weights, expected) => {
    const parts = allocateUsd(total, weights);
    expect(parts).toEqual(expected);
    if (weights.some((w) => w > 0) && total > 0) expect(sum(parts)).toBe(total);
  });
});

describe('invoiceLineItems', () => {
  const fmt = (n: number) => n.toFixed(2);
  it('plan fee, overage per event type in proportion, top-ups prepaid, total; the lines add up', () => {
    const lines = invoiceLineItems(
      { plan: 'starter', planPrice: 19, overageCredits: 172, overageRate: 0.02, overageCost: 3.44, topUpCredits: 100, total: 22.44 },
      [
        { name: 'Structuring: Generate solution', overageCredits: 106 },
        { name: 'Visuals: Planning', overageCredits: 66 },
        { name: 'Export: PDF', overageCredits: 0 },
      ],
      fmt,
    );
    expect(lines).toEqual([
      { kind: 'plan', label: 'Plan fee: starter', detail: '', amount: 19 },
      { kind: 'overage', label: 'Overage: Structuring: Generate solution', detail: '106.00 credits × $0.02', amount: 2.12 },
      { kind: 'overage', label: 'Overage: Visuals: Planning', detail: '66.00 credits × $0.02', amount: 1.32 },
      { kind: 'topups', label: 'Top-up credits used', detail: '100.00 credits, prepaid', amount: 0 },
      { kind: 'total', label: 'Total', detail: '', amount: 22.44 },
    ]);
    expect(sum(lines.filter((l) => l.kind !== 'total').map((l) => l.amount))).toBe(22.44);
  });

  it('no overage, no top-ups: the plan fee and the total', () => {
    expect(invoiceLineItems({ plan: 'free', planPrice: 0, overageCredits: 0, overageRate: null, overageCost: 0, topUpCredits: 0, total: 0 }, [], fmt).map((l) => l.kind)).toEqual(['plan', 'total']);
  });

  it('overage without a per-type split (a frozen invoice of a period without rollups) is one line', () => {
    const lines = invoiceLineItems({ plan: 'starter', planPrice: 19, overageCredits: 10, overageRate: 0.02, overageCost: 0.2, topUpCredits: 0, total: 19.2 }, [], fmt);
    expect(lines[1]).toEqual({ kind: 'overage', label: 'Overage', detail: '10.00 credits × $0.02', amount: 0.2 });
  });
});

describe('costRows', () => {
  it('splits the invoice total by credits and compares with the previous period', () => {
    const rows = costRows(
      [
        { key: 'a', name: 'A', credits: 300 },
        { key: 'b', name: 'B', credits: 100 },
      ],
      40,
      [{ key: 'a', name: 'A', credits: 100 }],
      20,
    );
    expect(rows).toEqual([
      { key: 'a', name: 'A', credits: 300, cost: 30, previousCredits: 100, previousCost: 20, changePercent: 50 },
      { key: 'b', name: 'B', credits: 100, cost: 10, previousCredits: 0, previousCost: 0, changePercent: null },
    ]);
  });
  it('without a previous period there is nothing to compare', () => {
    expect(costRows([{ key: 'a', name: 'A', credits: 1 }], 19, null, null)[0]).toMatchObject({ cost: 19, previousCost: null, changePercent: null });
  });
});

describe('previousPeriod', () => {
  it.each([
    ['2026-12-01T00:00:00.000Z', { key: '2026-11', from: '2026-11-01', to: '2026-11-30' }],
    ['2027-01-01T00:00:00.000Z', { key: '2026-12', from: '2026-12-01', to: '2026-12-31' }],
    ['2028-03-01T00:00:00.000Z', { key: '2028-02', from: '2028-02-01', to: '2028-02-29' }],
  ])('%s', (start, expected) => expect(previousPeriod(start)).toEqual(expected));
});

describe('reconciliation alert meanings', () => {
  it('explain every kind the reconciliation raises', () => {
    // A Record over the service's AlertKind: a new kind fails the type check here until it is listed.
    const every: Record<AlertKind, true> = { balance_mismatch: true, grant_mismatch: true, allowance_exceeded: true, overage_not_permitted: true, spend_cap_exceeded: true, rollup_mismatch: true, async_events_refused: true, period_close_failed: true, ingest_lag: true };
    const kinds = Object.keys(every);
    expect(Object.keys(ALERT_MEANINGS).sort()).toEqual([...kinds].sort());
    for (const kind of kinds) expect(alertMeaning(kind).meaning.length).toBeGreaterThan(20);
    expect(alertMeaning('something_new')).toMatchObject({ title: 'something_new', severity: 'warning' });
  });
});

describe('budgetShare (a run\'s budget bar)', () => {
  it.each<[string, string, string | null, ReturnType<typeof budgetShare>]>([
    ['20', '10', '30', { spent: 66.6, held: 33.4, used: 100, over: true }],
    ['20', '0', '100', { spent: 20, held: 0, used: 20, over: false }],
    ['0', '0', '100', { spent: 0, held: 0, used: 0, over: false }],
    ['150', '0', '100', { spent: 100, held: 0, used: 100, over: true }],
    ['5', '0', null, null],
    ['0', '0', '0', { spent: 0, held: 0, used: 0, over: true }],
    ['0.000001', '0', '0', { spent: 100, held: 0, used: 100, over: true }],
    // 10^10 credits less one micro-credit: exact in micro-credits, not 100% through float rounding.
    ['9999999999.999999', '0', '10000000000', { spent: 99.9, held: 0, used: 99.9, over: false }],
  ])('spent %p, held %p of %p', (spent, held, budget, expected) => expect(budgetShare(spent, held, budget)).toEqual(expected));

  it('reads decimal strings in micro-credits exactly', () => {
    expect(creditMicros('1.028')).toBe(1_028_000n);
    expect(creditMicros('10000000000')).toBe(10_000_000_000_000_000n);
    expect(creditMicros('0.1234567')).toBeNull();
    expect(creditMicros('-1')).toBeNull();
  });
});
