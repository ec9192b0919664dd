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

  /** Freezes an invoice; false when the period already had one (a rerun of the close changes nothing). */
  async insertInvoice(organizationId: string, period: Period, billingCycle: string, lines: InvoiceLines, now: Date): Promise<boolean> {
    const rows = (await this.tx.manager.query(
      `INSERT INTO invoices (organization_id, period_start, plan_name, billing_cycle, plan_price, included_credits, used_credits, overage_credits,
                             overage_cost, top_up_credits, total, lines, created_at)
       VALUES ($1, $2::date, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING RETURNING period_start`,
      [
        organizationId,
        periodStartDay(period),
        lines.plan,
        billingCycle,
        lines.planPrice.toFixed(2),
        String(lines.includedCredits),
        String(lines.usedCredits),
        String(lines.overageCredits),
        lines.overageCost.toFixed(2),
        String(lines.topUpCredits),
        lines.total.toFixed(2),
        JSON.stringify(lines),
        now,
      ],
    )) as unknown[];
    return rows.length > 0;
  }

  async insertReport(organizationId: string, period: Period, report: MonthlyReport, csv: string, now: Date): Promise<boolean> {
    const rows = (await this.tx.manager.query(
      `INSERT INTO monthly_reports (organization_id, period_start, report, csv, created_at) VALUES ($1, $2::date, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING period_start`,
      [organizationId, periodStartDay(period), JSON.stringify(report), csv, now],
    )) as unknown[];
    return rows.length > 0;
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
