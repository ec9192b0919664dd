import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger keeps what an event costs below a hundredth (docs/amounts-and-bounds.md): every ledger amount
 * goes from numeric(18,2) to numeric(22,6), the same 16 integer digits and 6 decimals, so 1,000 events of 49
 * tokens at 0.0001 credits are charged 0.0049 each (4.90 in all) instead of 0.00 each. What is shown or
 * invoiced is rounded once, where it is shown (invoices and notifications stay two decimals).
 *
 * Existing data converts exactly: a value with two decimals gains four zeros, nothing is rounded. The
 * functions that move credits (consume_credits_many and its callers, refund_credits, reserve_credits_many)
 * compute in unconstrained numeric and need no change. The ALTERs rewrite the tables (usage_events with
 * every partition), holding an exclusive lock while they run: plan it like any table rewrite.
 */
const COLUMNS: Array<[string, string[]]> = [
  ['usage_events', ['credits', 'from_allowance', 'from_grants', 'overage']],
  ['period_balances', ['allowance_used', 'grants_used', 'overage_used', 'consumed']],
  ['credit_grants', ['remaining']],
  ['grant_consumptions', ['credits']],
  ['usage_rollups_daily', ['credits', 'overage']],
  ['usage_rollups_monthly', ['credits', 'overage']],
  ['reservations', ['credits', 'from_allowance', 'from_grants', 'overage', 'consumed_before', 'consumed_after', 'remaining_after']],
  ['refused_events', ['credits']],
  ['budget_usage', ['used']],
];

export class MicroCredits1764300031000 implements MigrationInterface {
  name = 'MicroCredits1764300031000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const [table, columns] of COLUMNS) {
      await queryRunner.query(`ALTER TABLE ${table} ${columns.map((c) => `ALTER COLUMN ${c} TYPE numeric(22,6)`).join(', ')}`);
    }
  }

  async down(): Promise<void> {
    // Narrowing back would round what events cost below a hundredth: not reversible without losing money.
    throw new Error('MicroCredits1764300031000 is not reversible: restore from a backup');
  }
}
