import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../common/database/transaction-host';
import type { CreditHundredths } from '../../common/money/credits';
import { OPEN_TOP_UPS_SQL } from './credit-grants.repository';
import { creditsRemaining } from './utils/credits-remaining';

/** A period's balance row as the usage summary shows it (numeric columns as exact strings). */
export interface BalanceSummaryRow {
  plan_name: string;
  allowance: string;
  allowance_used: string;
  grants_used: string;
  overage_used: string;
  overage_cost: string;
  consumed: string;
  events: string;
}

/**
 * period_balances: one row per organization and period, the lock every debit of the period takes. Created
 * only by ensure_period_balance (the plan decided under the organization row lock), debited only by
 * consume_credits and refunded only by refund_credits; this repository holds the other writes.
 */
@Injectable()
export class PeriodBalancesRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Points the balance rows of the periods starting at or after `fromPeriodStart` at a new plan and its
   * allowance (what was used stays used). Call it holding the organization row lock: the debit takes the
   * same lock before it creates a row, so an event either sees the change or the change sees its row.
   */
  async setPlanFrom(organizationId: string, fromPeriodStart: string, planName: string, allowance: string, now: Date): Promise<void> {
    await this.tx.manager.query(`UPDATE period_balances SET plan_name = $3, allowance = $4, updated_at = $5 WHERE organization_id = $1 AND period_start >= $2::date`, [
      organizationId,
      fromPeriodStart,
      planName,
      allowance,
      now,
    ]);
  }

  /** Takes the period's balance row lock (what serializes debits, rollup rebuilds and the close); false when there is no row. */
  async lock(organizationId: string, periodStart: string): Promise<boolean> {
    const rows = (await this.tx.manager.query(`SELECT 1 FROM period_balances WHERE organization_id = $1 AND period_start = $2::date FOR UPDATE`, [organizationId, periodStart])) as unknown[];
    return rows.length > 0;
  }

  /**
   * Creates the period's balance row if missing (an organization without usage still gets its invoice), with
   * the plan its history gives, through the debit's own ensure_period_balance; and locks it.
   */
  async openAndLock(organizationId: string, periodStart: string, now: Date): Promise<void> {
    await this.tx.manager.query(`SELECT ensure_period_balance($1, $2::date, $3)`, [organizationId, periodStart, now]);
    await this.lock(organizationId, periodStart);
  }

  /**
   * Opens the period's allowance for every organization existing by `periodEnd`, on the plan its history
   * gives (through the debit's own ensure_period_balance, so each row is exactly the one a debit would
   * create), in one statement; idempotent. `exceptInvoiced`: not for organizations whose period is already
   * invoiced (the close's rerun). Returns the rows created.
   */
  async openForAll(periodStart: string, periodEnd: Date, now: Date, options: { exceptInvoiced?: boolean } = {}): Promise<number> {
    const [{ n }] = (await this.tx.manager.query(
      `SELECT count(ensure_period_balance(o.id, $1::date, $3))::int AS n
         FROM organizations o
        WHERE o.created_at < $2 AND NOT EXISTS (SELECT 1 FROM period_balances b WHERE b.organization_id = o.id AND b.period_start = $1::date)
          AND NOT ($4 AND EXISTS (SELECT 1 FROM invoices i WHERE i.organization_id = o.id AND i.period_start = $1::date))`,
      [periodStart, periodEnd, now, options.exceptInvoiced === true],
    )) as Array<{ n: number }>;
    return n;
  }

  /** Credits remaining in the period at `now` (creditsRemaining over its balance row and the open top-ups). */
  async creditsRemaining(organizationId: string, periodStart: string, now: Date): Promise<CreditHundredths> {
    const [row] = (await this.tx.manager.query(
      `SELECT b.allowance, b.allowance_used, ${OPEN_TOP_UPS_SQL} AS top_ups
         FROM (SELECT 1) one LEFT JOIN period_balances b ON b.organization_id = $1 AND b.period_start = $3::date`,
      [organizationId, now, periodStart],
    )) as Array<{ allowance: string | null; allowance_used: string | null; top_ups: string }>;
    return creditsRemaining(row.allowance ?? '0', row.allowance_used ?? '0', row.top_ups ?? '0');
  }

  /** The period's balance row, undefined before its first debit. */
  async find(organizationId: string, periodStart: string): Promise<BalanceSummaryRow | undefined> {
    const [row] = (await this.tx.manager.query(
      `SELECT plan_name, allowance, allowance_used, grants_used, overage_used, overage_cost::text AS overage_cost, consumed, events
         FROM period_balances WHERE organization_id = $1 AND period_start = $2::date`,
      [organizationId, periodStart],
    )) as BalanceSummaryRow[];
    return row;
  }

  /**
   * The period's count-limit counters (period_limit_counts), by limit name: a name without a row has counted
   * nothing. Written only by the debit and the refund, under this period's balance row lock.
   */
  async limitCounts(organizationId: string, periodStart: string): Promise<Map<string, number>> {
    const rows = (await this.tx.manager.query(
      `SELECT limit_name, used::text AS used FROM period_limit_counts WHERE organization_id = $1 AND period_start = $2::date`,
      [organizationId, periodStart],
    )) as Array<{ limit_name: string; used: string }>;
    return new Map(rows.map((r) => [r.limit_name, Number(r.used)]));
  }
}
