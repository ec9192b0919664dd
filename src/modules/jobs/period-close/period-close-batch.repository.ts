import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../../common/database/transaction-host';
import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsOrZero } from '../../../common/money/credits';
import type { Period } from '../../../common/time/period';
import type { Balance } from '../../analytics/billing.repository';
import { periodStartDay } from '../../analytics/utils/dates';
import type { IsoDay } from '../../analytics/utils/dates';
import type { PeriodPlan } from '../../analytics/utils/invoice';
import type { ReportDayRow, ReportRollupRow } from '../../analytics/utils/monthly-report';

const h = hundredthsOrZero;

/** A count or hundredths read as a JSON number: exact only as a safe integer, so anything else is refused. */
function safe(n: number): number {
  if (!Number.isSafeInteger(n)) throw new Error(`Amount out of range: ${n}`);
  return n;
}

function groupBy<R extends { organization_id: string }, T>(rows: R[], map: (r: R) => T): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const list = out.get(r.organization_id);
    if (list) list.push(map(r));
    else out.set(r.organization_id, [map(r)]);
  }
  return out;
}

/**
 * The period close's reads and writes for a set of organizations at once: each is one statement whatever the
 * number of organizations, so freezing a period costs a constant number of round trips per chunk and SQL work
 * that grows with the rollup rows, never with raw events. Every method runs in the caller's transaction,
 * after `lockBalances` (on PGlite another connection would wait forever).
 *
 * It writes invoices and monthly_reports (ON CONFLICT DO NOTHING: a rerun changes nothing); the ledger tables
 * it only reads.
 */
@Injectable()
export class PeriodCloseBatchRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Takes the balance row lock of every organization of `ids` for the period, in organization order (the
   * order any multi-row locker must use, so two of them cannot deadlock). The same lock consume_credits takes:
   * once granted, every event of the period has committed, and every later one sees the close mark.
   */
  async lockBalances(ids: string[], period: Period): Promise<number> {
    const rows = (await this.tx.manager.query(`SELECT organization_id FROM period_balances WHERE period_start = $1::date AND organization_id = ANY($2::text[]) ORDER BY organization_id FOR UPDATE`, [
      periodStartDay(period),
      ids,
    ])) as unknown[];
    return rows.length;
  }

  /** Organizations of `ids` holding pending reservations in the period (none when the table does not exist). */
  async withPendingReservations(ids: string[], period: Period): Promise<Set<string>> {
    const [{ present }] = (await this.tx.manager.query(`SELECT to_regclass('reservations') IS NOT NULL AS present`)) as Array<{ present: boolean }>;
    if (!present) return new Set();
    const rows = (await this.tx.manager.query(`SELECT DISTINCT organization_id FROM reservations WHERE organization_id = ANY($1::text[]) AND period_start = $2::date AND status = 'pending'`, [
      ids,
      periodStartDay(period),
    ])) as Array<{ organization_id: string }>;
    return new Set(rows.map((r) => r.organization_id));
  }

  async balances(ids: string[], periodStart: IsoDay): Promise<Map<string, Balance>> {
    const rows = (await this.tx.manager.query(
      `SELECT organization_id, plan_name, allowance, allowance_used, grants_used, overage_used, overage_cost::text AS overage_cost, consumed, events
         FROM period_balances WHERE period_start = $2::date AND organization_id = ANY($1::text[])`,
      [ids, periodStart],
    )) as Array<{ organization_id: string; plan_name: string; allowance: string; allowance_used: string; grants_used: string; overage_used: string; overage_cost: string; consumed: string; events: string }>;
    return new Map(
      rows.map((r) => [
        r.organization_id,
        {
          planName: r.plan_name,
          allowance: h(r.allowance),
          allowanceUsed: h(r.allowance_used),
          grantsUsed: h(r.grants_used),
          overage: h(r.overage_used),
          consumed: h(r.consumed),
          overageCost: r.overage_cost,
          events: Number(r.events),
        },
      ]),
    );
  }

  /** The period's monthly rollup rows of every organization of `ids` (the report's tables, and the agreement check). */
  async periodRows(ids: string[], periodStart: IsoDay): Promise<Map<string, ReportRollupRow[]>> {
    // One JSON array per organization (pg parses it with one JSON.parse) instead of a row per group; amounts
    // as integer hundredths, each line rounded half-up once (the int8 cast rounds halves away from zero).
    const rows = (await this.tx.manager.query(
      `SELECT organization_id, json_agg(json_build_array(event_type, category, user_id, events, (credits * 100)::int8, (overage * 100)::int8)) AS r
         FROM usage_rollups_monthly WHERE period_start = $2::date AND organization_id = ANY($1::text[]) GROUP BY organization_id`,
      [ids, periodStart],
    )) as Array<{ organization_id: string; r: Array<[string, string, string, number, number, number]> }>;
    return new Map(
      rows.map((row) => [
        row.organization_id,
        row.r.map(([eventType, category, userId, events, credits, overage]) => ({ eventType, category, userId: userId === '' ? null : userId, events: safe(events), credits: safe(credits), overage: safe(overage) })),
      ]),
    );
  }

  /**
   * Daily totals of `[from, to)` of every organization of `ids`: the report's days, and the daily side of the
   * agreement check. The one statement of the close that reads rows per (organization, day, group), so its
   * cost is the period's daily rollup rows, never its events.
   */
  async dayTotals(ids: string[], from: IsoDay, toExclusive: IsoDay): Promise<Map<string, ReportDayRow[]>> {
    const rows = (await this.tx.manager.query(
      `SELECT organization_id, json_agg(json_build_array(day::text, events, (credits * 100)::int8, (overage * 100)::int8) ORDER BY day) AS r FROM (
         SELECT organization_id, day, sum(events) AS events, sum(credits) AS credits, sum(overage) AS overage
           FROM usage_rollups_daily WHERE organization_id = ANY($1::text[]) AND day >= $2::date AND day < $3::date
          GROUP BY organization_id, day) d
        GROUP BY organization_id`,
      [ids, from, toExclusive],
    )) as Array<{ organization_id: string; r: Array<[string, number, number, number]> }>;
    return new Map(rows.map((row) => [row.organization_id, row.r.map(([day, events, credits, overage]) => ({ day, events: safe(events), credits: safe(credits), overage: safe(overage) }))]));
  }

  /**
   * Organizations of `ids` whose period rollups do not add up to their balance row (monthly to the balance,
   * daily to the monthly), compared exactly in SQL: the amounts read above are rounded to hundredths per line
   * for the report, and a sum of rounded lines need not equal the rounded total (events below a hundredth).
   */
  async disagreeing(ids: string[], periodStart: IsoDay, toExclusive: IsoDay): Promise<Set<string>> {
    const rows = (await this.tx.manager.query(
      `WITH mo AS (SELECT organization_id, sum(events) AS events, sum(credits) AS credits, sum(overage) AS overage
                     FROM usage_rollups_monthly WHERE period_start = $2::date AND organization_id = ANY($1::text[]) GROUP BY organization_id),
            d AS (SELECT organization_id, sum(events) AS events, sum(credits) AS credits, sum(overage) AS overage
                    FROM usage_rollups_daily WHERE organization_id = ANY($1::text[]) AND day >= $2::date AND day < $3::date GROUP BY organization_id),
            b AS (SELECT organization_id, events, consumed, overage_used FROM period_balances WHERE period_start = $2::date AND organization_id = ANY($1::text[]))
       SELECT x.id FROM unnest($1::text[]) AS x(id)
         LEFT JOIN mo ON mo.organization_id = x.id LEFT JOIN d ON d.organization_id = x.id LEFT JOIN b ON b.organization_id = x.id
        WHERE (coalesce(b.events, 0), coalesce(b.consumed, 0), coalesce(b.overage_used, 0)) <> (coalesce(mo.events, 0), coalesce(mo.credits, 0), coalesce(mo.overage, 0))
           OR (coalesce(mo.events, 0), coalesce(mo.credits, 0), coalesce(mo.overage, 0)) <> (coalesce(d.events, 0), coalesce(d.credits, 0), coalesce(d.overage, 0))`,
      [ids, periodStart, toExclusive],
    )) as Array<{ id: string }>;
    return new Set(rows.map((r) => r.id));
  }

  /** Top-ups granted during the period per organization (the invoice's top-up line); absent = none. */
  async grantsCreated(ids: string[], period: Period): Promise<Map<string, CreditHundredths>> {
    const rows = (await this.tx.manager.query(
      `SELECT organization_id, sum(amount) AS amount FROM credit_grants WHERE organization_id = ANY($1::text[]) AND created_at >= $2 AND created_at < $3 GROUP BY organization_id`,
      [ids, period.start, period.end],
    )) as Array<{ organization_id: string; amount: string }>;
    return new Map(rows.map((r) => [r.organization_id, h(r.amount)]));
  }

  /**
   * BillingRepository.periodPlans for many organizations: the plan in force at the period start, then each
   * change inside it (up to `now`), oldest first.
   */
  async periodPlans(ids: string[], period: Period, now: Date): Promise<Map<string, PeriodPlan[]>> {
    const rows = (await this.tx.manager.query(
      `SELECT organization_id, plan_name, greatest(effective_from, $2::timestamptz) AS from_at FROM (
         (SELECT DISTINCT ON (organization_id) organization_id, plan_name, effective_from FROM organization_plans
           WHERE organization_id = ANY($1::text[]) AND effective_from <= $2::timestamptz ORDER BY organization_id, effective_from DESC)
         UNION ALL
         SELECT organization_id, plan_name, effective_from FROM organization_plans
          WHERE organization_id = ANY($1::text[]) AND effective_from > $2::timestamptz AND effective_from < $3::timestamptz AND effective_from <= $4::timestamptz
       ) h ORDER BY organization_id, effective_from`,
      [ids, period.start, period.end, now],
    )) as Array<{ organization_id: string; plan_name: string; from_at: Date }>;
    return groupBy(rows, (r) => ({ plan: r.plan_name, from: new Date(r.from_at).toISOString() }));
  }
}
