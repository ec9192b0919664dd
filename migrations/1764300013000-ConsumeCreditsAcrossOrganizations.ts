import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Group commit across organizations (issue 13): single events of many organizations share one transaction,
 * so spreading load over organizations costs what one hot organization costs. consume_credits_orgs debits
 * them in one round trip by running consume_credits_many (the one place the rules live) once per
 * organization, in organization id order: every transaction that debits several organizations takes their
 * locks in that same order (each organization's own lock order inside), so two of them, or one and a
 * single-organization debit, wait for each other and never deadlock. Each item keeps its index `i`.
 */
export class ConsumeCreditsAcrossOrganizations1764300013000 implements MigrationInterface {
  name = 'ConsumeCreditsAcrossOrganizations1764300013000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION consume_credits_orgs(p_now timestamptz, p_grace_minutes integer, p_items jsonb)
      RETURNS TABLE (i integer, status text, from_allowance numeric, from_grants numeric, overage numeric, overage_cost numeric,
                     grant_takes jsonb, remaining numeric, consumed_before numeric, consumed_after numeric, allowance numeric,
                     limit_used integer, plan_name text, budget jsonb, budget_takes jsonb)
      LANGUAGE plpgsql AS $$
      #variable_conflict use_column
      DECLARE
        g record;
      BEGIN
        FOR g IN SELECT x->>'org' AS org, jsonb_agg(x ORDER BY (x->>'i')::int) AS items
                   FROM jsonb_array_elements(p_items) AS x GROUP BY 1 ORDER BY 1 LOOP
          RETURN QUERY SELECT * FROM consume_credits_many(g.org, p_now, p_grace_minutes, g.items);
        END LOOP;
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION consume_credits_orgs(timestamptz, integer, jsonb)`);
  }
}
