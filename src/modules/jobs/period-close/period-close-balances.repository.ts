import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Period } from '../../../common/time/period';
import { periodStartDay } from '../../analytics/utils/dates';

/**
 * The one write of the period close to period_balances (the ledger module will own it): the balance rows of
 * the organizations about to be frozen, so that each gets its invoice and every one of them can be locked.
 */
@Injectable()
export class PeriodCloseBalancesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Creates the period's missing balance rows (an organization without usage still gets its invoice) for every
   * organization existing before the period ended and not invoiced yet, with the plan its history gives,
   * through the debit's own ensure_period_balance (so the row is exactly the one a debit would have created).
   * One statement for all of them; idempotent. Returns the rows created.
   */
  async openForClose(period: Period, now: Date): Promise<number> {
    const [{ n }] = (await this.dataSource.query(
      `SELECT count(ensure_period_balance(o.id, $1::date, $3))::int AS n
         FROM organizations o
        WHERE o.created_at < $2
          AND NOT EXISTS (SELECT 1 FROM period_balances b WHERE b.organization_id = o.id AND b.period_start = $1::date)
          AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.organization_id = o.id AND i.period_start = $1::date)`,
      [periodStartDay(period), period.end, now],
    )) as Array<{ n: number }>;
    return n;
  }
}
