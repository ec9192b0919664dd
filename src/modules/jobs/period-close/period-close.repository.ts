import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TransactionHost } from '../../../common/database/transaction-host';
import type { Period } from '../../../common/time/period';
import { periodStartDay } from '../../analytics/utils/dates';
import type { IsoDay } from '../../analytics/utils/dates';
import type { OrganizationRow } from '../../organizations/organizations.types';

/** SQL of the period close (period_closes and the organizations it reads); the balances it opens are the ledger module's. */
@Injectable()
export class PeriodCloseRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly tx: TransactionHost,
  ) {}

  /** A transaction the repositories called inside join on their own (TransactionHost). */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.tx.transaction(work);
  }

  /** The first period anything could be billed for: the oldest balance row or organization. */
  async firstActivity(): Promise<IsoDay | undefined> {
    const [row] = (await this.dataSource.query(
      `SELECT least((SELECT min(period_start) FROM period_balances), (SELECT min(created_at AT TIME ZONE 'UTC')::date FROM organizations))::text AS first`,
    )) as Array<{ first: string | null }>;
    return row.first ?? undefined;
  }

  /** period_start -> status of the periods whose close has started. */
  async closes(): Promise<Map<IsoDay, 'closing' | 'closed'>> {
    const rows = (await this.dataSource.query(`SELECT period_start::text AS period_start, status FROM period_closes`)) as Array<{ period_start: string; status: 'closing' | 'closed' }>;
    return new Map(rows.map((r) => [r.period_start, r.status]));
  }

  /**
   * Marks the period closing, in a transaction of its own that commits before any total is frozen: from
   * that commit on, consume_credits refuses the period (see the migration).
   */
  async markClosing(period: Period, now: Date): Promise<boolean> {
    const rows = (await this.dataSource.query(
      `INSERT INTO period_closes (period_start, status, started_at) VALUES ($1::date, 'closing', $2) ON CONFLICT DO NOTHING RETURNING period_start`,
      [periodStartDay(period), now],
    )) as unknown[];
    return rows.length > 0;
  }

  async markClosed(period: Period, now: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE period_closes SET status = 'closed', completed_at = $2, organizations = (SELECT count(*) FROM invoices WHERE period_start = $1::date)
        WHERE period_start = $1::date AND status = 'closing'`,
      [periodStartDay(period), now],
    );
  }

  /**
   * Organizations to invoice for the period that have no invoice yet: those that existed before it ended,
   * and any other with a balance row in it (an event backdated before its organization was created).
   */
  async organizationsToFreeze(period: Period): Promise<OrganizationRow[]> {
    return (await this.dataSource.query(
      `SELECT o.id, o.name, o.plan_name, o.billing_cycle, o.spend_cap, o.webhook_url, o.pending_plan, o.pending_plan_from, o.created_at, o.updated_at
         FROM organizations o
        WHERE (o.created_at < $2 OR EXISTS (SELECT 1 FROM period_balances b WHERE b.organization_id = o.id AND b.period_start = $1::date))
          AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.organization_id = o.id AND i.period_start = $1::date)
        ORDER BY o.id`,
      [periodStartDay(period), period.end],
    )) as OrganizationRow[];
  }

  /**
   * Each organization's plan for the period: its balance row's, or (no row yet) the one its plan history gives
   * for the period, exactly what the debit would decide. Read without a lock (a closed period's row no
   * longer changes plan).
   */
  async balancePlans(ids: string[], period: Period, now: Date): Promise<Map<string, string>> {
    const rows = (await this.dataSource.query(
      `SELECT o.id, coalesce(b.plan_name, period_plan(o.id, $2::date, $3)) AS plan_name
         FROM unnest($1::text[]) AS o(id) LEFT JOIN period_balances b ON b.organization_id = o.id AND b.period_start = $2::date`,
      [ids, periodStartDay(period), now],
    )) as Array<{ id: string; plan_name: string }>;
    return new Map(rows.map((r) => [r.id, r.plan_name]));
  }
}
