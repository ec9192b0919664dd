import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A period's balance row is born with the plan of the latest change committed for that period, whatever the
 * creating debit's own `now` says.
 *
 * The race it closes: a plan change "now" is an entry of the plan history effective at the changing
 * instance's clock (say 15:16:56.387). An event whose `now` was read earlier (.122) but whose transaction
 * reached ensure_period_balance after the change committed (it waited in a group-commit lane, or on the
 * organization row lock the change held) asked period_plan for the plan in force at .122, and created the
 * period's row with the old plan; the change had found no row to rewrite, so every later event of the period
 * (.522, .606: after the change) was debited under the old allowance.
 *
 * Under the organization row lock (FOR SHARE in ensure_period_balance, the UPDATE of the plan change), the
 * history entries a debit can see are exactly the changes that committed before it creates the row. A "now"
 * change governs every period from the one containing its instant (setPlanFrom rewrites those rows), so
 * the row takes the latest entry effective before the period's end: the same plan setPlanFrom would have
 * written, had the row existed. A next-period change is effective at the next period's start, so it still
 * governs only that period on. A past period (the close, a late event in the grace window) reads as before:
 * its end is before `now`. `p_now` stays in the signature for the callers; it no longer decides.
 */
export class PeriodPlanByCommitOrder1764300040000 implements MigrationInterface {
  name = 'PeriodPlanByCommitOrder1764300040000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION period_plan(p_org text, p_period date, p_now timestamptz) RETURNS text
      LANGUAGE sql STABLE AS $$
        SELECT coalesce(
          (SELECT h.plan_name FROM organization_plans h
            WHERE h.organization_id = p_org
              AND h.effective_from < ((p_period + interval '1 month')::timestamp AT TIME ZONE 'UTC')
            ORDER BY h.effective_from DESC LIMIT 1),
          (SELECT o.plan_name FROM organizations o WHERE o.id = p_org))
      $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION period_plan(p_org text, p_period date, p_now timestamptz) RETURNS text
      LANGUAGE sql STABLE AS $$
        SELECT coalesce(
          (SELECT h.plan_name FROM organization_plans h
            WHERE h.organization_id = p_org
              AND h.effective_from <= greatest(p_period::timestamp AT TIME ZONE 'UTC',
                                               least(p_now, ((p_period + interval '1 month')::timestamp AT TIME ZONE 'UTC') - interval '1 microsecond'))
            ORDER BY h.effective_from DESC LIMIT 1),
          (SELECT o.plan_name FROM organizations o WHERE o.id = p_org))
      $$`);
  }
}
