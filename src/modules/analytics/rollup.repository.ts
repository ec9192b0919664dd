import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TransactionHost } from '../../common/database/transaction-host';
import type { CreditHundredths } from '../../common/money/credits';
import { hundredthsOrZero } from '../../common/money/credits';
import type { LedgerEventRow } from '../ledger/ledger.types';
import type { IsoDay } from './utils/dates';
import type { ReportDayRow, ReportRollupRow } from './utils/monthly-report';
import type { RollupRangePlan } from './utils/rollup-range';
import type { MonthTotals } from './utils/trends';

export type BreakdownGroup = 'eventType' | 'category' | 'user' | 'day';

export interface BreakdownRow {
  key: string;
  category: string | null;
  events: number;
  credits: CreditHundredths;
  overage: CreditHundredths;
}

/** Only these expressions ever reach the SQL text (the group comes from a validated enum anyway). */
const GROUP_KEY: Record<BreakdownGroup, { key: string; category: string }> = {
  eventType: { key: 'event_type', category: 'max(category)' },
  category: { key: 'category', category: 'NULL' },
  user: { key: 'user_id', category: 'NULL' },
  day: { key: 'day::text', category: 'NULL' },
};

/** The columns of a ledger row that rollups need. */
export type RollupSource = Pick<LedgerEventRow, 'organization_id' | 'occurred_at' | 'period_start' | 'event_type' | 'category' | 'user_id' | 'credits' | 'overage'>;

const h = hundredthsOrZero;

/**
 * Reads of the daily and monthly aggregates of usage_events (organization, day or period, event type,
 * category, user: count, credits, overage). Analytics read these, never a period of raw events. The ledger
 * module owns and writes them (LedgerRepository.writeEntries increments them, RollupsRepository checks and
 * rebuilds them).
 */
@Injectable()
export class RollupRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly tx: TransactionHost,
  ) {}

  /** Credits, count and overage grouped by one dimension over the days of `plan` (for `day`, daily ranges only). */
  async breakdown(organizationId: string, plan: RollupRangePlan, group: BreakdownGroup): Promise<BreakdownRow[]> {
    const { key, category } = GROUP_KEY[group];
    const params: unknown[] = [organizationId];
    const parts: string[] = [];
    for (const range of plan.daily) {
      params.push(range.from, range.to);
      parts.push(`SELECT ${key} AS key, category, events, credits, overage FROM usage_rollups_daily
                   WHERE organization_id = $1 AND day BETWEEN $${params.length - 1}::date AND $${params.length}::date`);
    }
    if (plan.monthly) {
      params.push(plan.monthly.from, plan.monthly.to);
      // Grouping by day never gets here: its plan holds daily ranges only.
      parts.push(`SELECT ${key} AS key, category, events, credits, overage FROM usage_rollups_monthly
                   WHERE organization_id = $1 AND period_start BETWEEN $${params.length - 1}::date AND $${params.length}::date`);
    }
    if (parts.length === 0) return [];
    const rows = (await this.dataSource.query(
      `SELECT key, ${category} AS category, sum(events)::bigint AS events, sum(credits) AS credits, sum(overage) AS overage
         FROM (${parts.join(' UNION ALL ')}) u GROUP BY key`,
      params,
    )) as Array<{ key: string; category: string | null; events: string; credits: string; overage: string }>;
    return rows.map((r) => ({ key: r.key, category: r.category, events: Number(r.events), credits: h(r.credits), overage: h(r.overage) }));
  }

  /** Total credits of the daily rollups of `[from, to]` (inclusive); 0 for an empty range. */
  async creditsBetween(organizationId: string, from: IsoDay, to: IsoDay): Promise<CreditHundredths> {
    if (from > to) return 0;
    const [row] = (await this.dataSource.query(
      `SELECT coalesce(sum(credits), 0) AS credits FROM usage_rollups_daily WHERE organization_id = $1 AND day BETWEEN $2::date AND $3::date`,
      [organizationId, from, to],
    )) as Array<{ credits: string }>;
    return h(row.credits);
  }

  /** The first day of `[from, to]` with recorded usage; null when none (how many days of data a forecast has). */
  async firstUsageDay(organizationId: string, from: IsoDay, to: IsoDay): Promise<IsoDay | null> {
    const [row] = (await this.dataSource.query(
      `SELECT min(day)::text AS day FROM usage_rollups_daily WHERE organization_id = $1 AND day BETWEEN $2::date AND $3::date AND events > 0`,
      [organizationId, from, to],
    )) as Array<{ day: string | null }>;
    return row?.day ?? null;
  }

  /** Totals per period (`YYYY-MM`) of the monthly rollups whose period_start is in `[from, to]`. */
  async monthlyTotals(organizationId: string, from: IsoDay, to: IsoDay): Promise<Map<string, MonthTotals>> {
    const rows = (await this.dataSource.query(
      `SELECT period_start, sum(events)::bigint AS events, sum(credits) AS credits, sum(overage) AS overage
         FROM usage_rollups_monthly WHERE organization_id = $1 AND period_start BETWEEN $2::date AND $3::date GROUP BY period_start`,
      [organizationId, from, to],
    )) as Array<{ period_start: string; events: string; credits: string; overage: string }>;
    return new Map(rows.map((r) => [r.period_start.slice(0, 7), { events: Number(r.events), credits: h(r.credits), overage: h(r.overage) }]));
  }

  /** The monthly rollup rows of one period (the monthly report's tables), in the ambient transaction (the close's). */
  async periodRows(organizationId: string, periodStart: IsoDay): Promise<ReportRollupRow[]> {
    const rows = (await this.tx.manager.query(
      `SELECT event_type, category, user_id, events, credits, overage FROM usage_rollups_monthly WHERE organization_id = $1 AND period_start = $2::date`,
      [organizationId, periodStart],
    )) as Array<{ event_type: string; category: string; user_id: string; events: string; credits: string; overage: string }>;
    return rows.map((r) => ({ eventType: r.event_type, category: r.category, userId: r.user_id === '' ? null : r.user_id, events: Number(r.events), credits: h(r.credits), overage: h(r.overage) }));
  }

  /** Daily totals of `[from, to)`. */
  async dayTotals(organizationId: string, from: IsoDay, toExclusive: IsoDay): Promise<ReportDayRow[]> {
    const rows = (await this.tx.manager.query(
      `SELECT day::text AS day, sum(events)::bigint AS events, sum(credits) AS credits, sum(overage) AS overage
         FROM usage_rollups_daily WHERE organization_id = $1 AND day >= $2::date AND day < $3::date GROUP BY day ORDER BY day`,
      [organizationId, from, toExclusive],
    )) as Array<{ day: string; events: string; credits: string; overage: string }>;
    return rows.map((r) => ({ day: r.day, events: Number(r.events), credits: h(r.credits), overage: h(r.overage) }));
  }
}
