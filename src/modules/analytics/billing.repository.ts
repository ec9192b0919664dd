import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TransactionHost } from '../../common/database/transaction-host';
import type { CreditHundredths } from '../../common/money/credits';
import { hundredthsOrZero } from '../../common/money/credits';
import type { Period } from '../../common/time/period';
import { periodStartDay } from './utils/dates';
import type { IsoDay } from './utils/dates';
import type { InvoiceLines, PeriodPlan } from './utils/invoice';
import type { MonthlyReport } from './utils/monthly-report';

/** A period_balances row in hundredths. */
export interface Balance {
  planName: string;
  allowance: CreditHundredths;
  allowanceUsed: CreditHundredths;
  grantsUsed: CreditHundredths;
  overage: CreditHundredths;
  consumed: CreditHundredths;
  /** USD recorded with the debits (unrounded numeric string). */
  overageCost: string;
  events: number;
}

export interface StoredInvoice {
  planName: string;
  billingCycle: string;
  lines: InvoiceLines & Record<string, unknown>;
  createdAt: Date;
}

export interface ReportSummary {
  period: string;
  createdAt: string;
  totals: MonthlyReport['totals'];
  invoiceTotal: number;
}

/** One organization's frozen invoice and report, as the set-based insert takes them. */
export interface FrozenPeriod {
  organizationId: string;
  billingCycle: string;
  lines: InvoiceLines;
  report: MonthlyReport;
  csv: string;
}

const h = hundredthsOrZero;

/**
 * Reads and writes of the billing side of analytics: balances, top-ups, frozen invoices and monthly reports.
 * The balance, plan history, top-up and invoice reads and the inserts run in the ambient transaction when
 * one is open (TransactionHost: on PGlite another connection would wait forever); the report reads never do.
 */
@Injectable()
export class BillingRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly tx: TransactionHost,
  ) {}

  async balance(organizationId: string, periodStart: IsoDay): Promise<Balance | undefined> {
    const [row] = (await this.tx.manager.query(
      `SELECT plan_name, allowance, allowance_used, grants_used, overage_used, overage_cost::text AS overage_cost, consumed, events FROM period_balances WHERE organization_id = $1 AND period_start = $2::date`,
      [organizationId, periodStart],
    )) as Array<{ plan_name: string; allowance: string; allowance_used: string; grants_used: string; overage_used: string; overage_cost: string; consumed: string; events: string }>;
    if (!row) return undefined;
    return {
      planName: row.plan_name,
      allowance: h(row.allowance),
      allowanceUsed: h(row.allowance_used),
      grantsUsed: h(row.grants_used),
      overage: h(row.overage_used),
      consumed: h(row.consumed),
      overageCost: row.overage_cost,
      events: Number(row.events),
    };
  }

  /**
   * The plans the period ran on, from the plan history: the one in force at its start, then each change
   * inside it (up to `now` for a period that is still open).
   */
  async periodPlans(organizationId: string, period: Period, now: Date): Promise<PeriodPlan[]> {
    const rows = (await this.tx.manager.query(
      `SELECT plan_name, greatest(effective_from, $2::timestamptz) AS from_at FROM (
         (SELECT plan_name, effective_from FROM organization_plans WHERE organization_id = $1 AND effective_from <= $2::timestamptz ORDER BY effective_from DESC LIMIT 1)
         UNION ALL
         SELECT plan_name, effective_from FROM organization_plans
          WHERE organization_id = $1 AND effective_from > $2::timestamptz AND effective_from < $3::timestamptz AND effective_from <= $4::timestamptz
       ) h ORDER BY effective_from`,
      [organizationId, period.start, period.end, now],
    )) as Array<{ plan_name: string; from_at: Date }>;
    return rows.map((r) => ({ plan: r.plan_name, from: new Date(r.from_at).toISOString() }));
  }

  /** Top-ups granted during the period (the invoice's top-up line). */
  async grantsCreated(organizationId: string, period: Period): Promise<CreditHundredths> {
    const [row] = (await this.tx.manager.query(
      `SELECT coalesce(sum(amount), 0) AS amount FROM credit_grants WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3`,
      [organizationId, period.start, period.end],
    )) as Array<{ amount: string }>;
    return h(row.amount);
  }

  async invoice(organizationId: string, periodStart: IsoDay): Promise<StoredInvoice | undefined> {
    const [row] = (await this.tx.manager.query(`SELECT plan_name, billing_cycle, lines, created_at FROM invoices WHERE organization_id = $1 AND period_start = $2::date`, [organizationId, periodStart])) as Array<{
      plan_name: string;
      billing_cycle: string;
      lines: StoredInvoice['lines'];
      created_at: Date;
    }>;
    return row ? { planName: row.plan_name, billingCycle: row.billing_cycle, lines: row.lines, createdAt: new Date(row.created_at) } : undefined;
  }

  /** Freezes the invoices and monthly reports in two statements; returns the invoices written (a rerun writes none). */
  async insertFrozen(period: Period, frozen: FrozenPeriod[], now: Date): Promise<number> {
    if (frozen.length === 0) return 0;
    const start = periodStartDay(period);
    const invoices = frozen.map((f) => ({
      organization_id: f.organizationId,
      plan_name: f.lines.plan,
      billing_cycle: f.billingCycle,
      plan_price: f.lines.planPrice.toFixed(2),
      included_credits: String(f.lines.includedCredits),
      used_credits: String(f.lines.usedCredits),
      overage_credits: String(f.lines.overageCredits),
      overage_cost: f.lines.overageCost.toFixed(2),
      top_up_credits: String(f.lines.topUpCredits),
      total: f.lines.total.toFixed(2),
      lines: f.lines,
    }));
    const [{ n }] = (await this.tx.manager.query(
      `WITH written AS (
       INSERT INTO invoices (organization_id, period_start, plan_name, billing_cycle, plan_price, included_credits, used_credits, overage_credits,
                             overage_cost, top_up_credits, total, lines, created_at)
       SELECT x.organization_id, $2::date, x.plan_name, x.billing_cycle, x.plan_price::numeric, x.included_credits::numeric, x.used_credits::numeric, x.overage_credits::numeric,
              x.overage_cost::numeric, x.top_up_credits::numeric, x.total::numeric, x.lines, $3
         FROM jsonb_to_recordset($1::jsonb) AS x(organization_id text, plan_name text, billing_cycle text, plan_price text, included_credits text, used_credits text,
                                                  overage_credits text, overage_cost text, top_up_credits text, total text, lines jsonb)
       ON CONFLICT DO NOTHING RETURNING 1)
       SELECT count(*)::int AS n FROM written`,
      [JSON.stringify(invoices), start, now],
    )) as Array<{ n: number }>;
    await this.tx.manager.query(
      `INSERT INTO monthly_reports (organization_id, period_start, report, csv, created_at)
       SELECT x.organization_id, $2::date, x.report, x.csv, $3 FROM jsonb_to_recordset($1::jsonb) AS x(organization_id text, report jsonb, csv text)
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(frozen.map((f) => ({ organization_id: f.organizationId, report: f.report, csv: f.csv }))), start, now],
    );
    return n;
  }

  async report(organizationId: string, periodStart: IsoDay): Promise<{ report: MonthlyReport; csv: string } | undefined> {
    const [row] = (await this.dataSource.query(`SELECT report, csv FROM monthly_reports WHERE organization_id = $1 AND period_start = $2::date`, [organizationId, periodStart])) as Array<{
      report: MonthlyReport;
      csv: string;
    }>;
    return row;
  }

  /** Newest first, without the bodies. */
  async listReports(organizationId: string): Promise<ReportSummary[]> {
    const rows = (await this.dataSource.query(
      `SELECT period_start, created_at, report->'totals' AS totals, (report->'invoice'->>'total')::numeric AS total
         FROM monthly_reports WHERE organization_id = $1 ORDER BY period_start DESC LIMIT 240`,
      [organizationId],
    )) as Array<{ period_start: string; created_at: Date; totals: MonthlyReport['totals']; total: string }>;
    return rows.map((r) => ({ period: r.period_start.slice(0, 7), createdAt: new Date(r.created_at).toISOString(), totals: r.totals, invoiceTotal: Number(r.total) }));
  }
}
