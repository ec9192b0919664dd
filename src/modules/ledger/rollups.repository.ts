import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../common/database/transaction-host';

/**
 * The rollups' writes apart from the ledger's own increments (LedgerRepository.writeEntries adds each
 * transaction's events to them in the same statement): the check against the balance row and the rebuild
 * from raw events. Analytics reads the rollups (analytics/rollup.repository.ts) and never writes them.
 *
 * Writers and a rebuild are serialized by the period's balance row lock (PeriodBalancesRepository.lock):
 * every transaction that inserts events has taken it in consume_credits, and a rebuild takes it before it
 * recounts, so an increment can neither be lost under a rebuild nor counted twice.
 */
@Injectable()
export class RollupsRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Whether the period's daily and monthly rollups both sum to its balance row (events, credits, overage):
   * one statement over O(groups) rows, not the period's raw events. Call it holding the balance row lock.
   */
  async agreeWithBalance(organizationId: string, periodStart: string, periodEnd: string): Promise<boolean> {
    const [row] = (await this.tx.manager.query(
      `WITH b AS (SELECT events, consumed, overage_used FROM period_balances WHERE organization_id = $1 AND period_start = $2::date),
            mo AS (SELECT coalesce(sum(events), 0) AS events, coalesce(sum(credits), 0) AS credits, coalesce(sum(overage), 0) AS overage
                     FROM usage_rollups_monthly WHERE organization_id = $1 AND period_start = $2::date),
            d AS (SELECT coalesce(sum(events), 0) AS events, coalesce(sum(credits), 0) AS credits, coalesce(sum(overage), 0) AS overage
                    FROM usage_rollups_daily WHERE organization_id = $1 AND day >= $2::date AND day < $3::date)
       SELECT coalesce(b.events, 0) = mo.events AND coalesce(b.consumed, 0) = mo.credits AND coalesce(b.overage_used, 0) = mo.overage
              AND mo.events = d.events AND mo.credits = d.credits AND mo.overage = d.overage AS agree
         FROM mo CROSS JOIN d LEFT JOIN b ON true`,
      [organizationId, periodStart, periodEnd],
    )) as Array<{ agree: boolean }>;
    return row.agree;
  }

  /**
   * Recounts the daily rollups of `[from, to]` (inclusive days, within one period) from raw events, then the
   * period's monthly rollups from the daily ones. Call it holding the balance row lock. Returns the rows written.
   */
  async rebuild(organizationId: string, periodStart: string, periodEnd: string, from: string, to: string): Promise<number> {
    await this.tx.manager.query(`DELETE FROM usage_rollups_daily WHERE organization_id = $1 AND day BETWEEN $2::date AND $3::date`, [organizationId, from, to]);
    const [{ n: daily }] = (await this.tx.manager.query(
      `WITH written AS (
         INSERT INTO usage_rollups_daily (organization_id, day, event_type, category, user_id, events, credits, overage)
         SELECT organization_id, (occurred_at AT TIME ZONE 'UTC')::date, event_type, category, coalesce(user_id, ''), count(*), sum(credits), sum(overage)
           FROM usage_events
          WHERE organization_id = $1 AND occurred_at >= ($2::date)::timestamp AT TIME ZONE 'UTC' AND occurred_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
          GROUP BY 1, 2, 3, 4, 5
         RETURNING 1)
       SELECT count(*)::int AS n FROM written`,
      [organizationId, from, to],
    )) as Array<{ n: number }>;
    await this.tx.manager.query(`DELETE FROM usage_rollups_monthly WHERE organization_id = $1 AND period_start = $2::date`, [organizationId, periodStart]);
    const [{ n: monthly }] = (await this.tx.manager.query(
      `WITH written AS (
         INSERT INTO usage_rollups_monthly (organization_id, period_start, event_type, category, user_id, events, credits, overage)
         SELECT organization_id, $2::date, event_type, category, user_id, sum(events), sum(credits), sum(overage)
           FROM usage_rollups_daily
          WHERE organization_id = $1 AND day >= $2::date AND day < $3::date
          GROUP BY organization_id, event_type, category, user_id
         RETURNING 1)
       SELECT count(*)::int AS n FROM written`,
      [organizationId, periodStart, periodEnd],
    )) as Array<{ n: number }>;
    return daily + monthly;
  }
}
