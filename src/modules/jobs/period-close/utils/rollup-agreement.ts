import type { Balance } from '../../../analytics/billing.repository';
import type { ReportDayRow, ReportRollupRow } from '../../../analytics/utils/monthly-report';

interface Totals {
  events: number;
  credits: number;
  overage: number;
}

function sum(rows: ReadonlyArray<Totals>): Totals {
  const t = { events: 0, credits: 0, overage: 0 };
  for (const r of rows) {
    t.events += r.events;
    t.credits += r.credits;
    t.overage += r.overage;
  }
  return t;
}

const same = (a: Totals, b: Totals) => a.events === b.events && a.credits === b.credits && a.overage === b.overage;

/**
 * RollupRepository.agreeWithBalance over rows already read: the period's monthly rollups sum to its balance
 * row (events, credits, overage) and its daily totals sum to the monthly rollups. Exact: every amount is in
 * integer hundredths. No balance row counts as nothing used.
 */
export function rollupsAgree(balance: Balance | undefined, monthly: ReadonlyArray<ReportRollupRow>, days: ReadonlyArray<ReportDayRow>): boolean {
  const b = { events: balance?.events ?? 0, credits: balance?.consumed ?? 0, overage: balance?.overage ?? 0 };
  const mo = sum(monthly);
  return same(b, mo) && same(mo, sum(days));
}
