/**
 * The live definition of `consume_credits_orgs`: the one place its SQL lives. To change it, edit it here and add a
 * migration that applies it again (`applySqlFunctions(queryRunner, ['consume_credits_orgs'])`); test/sql-functions.e2e-spec.ts
 * fails while the database's body differs from this file.
 */
export const consumeCreditsOrgs = String.raw`CREATE OR REPLACE FUNCTION consume_credits_orgs(p_now timestamp with time zone, p_grace_minutes integer, p_items jsonb)
 RETURNS TABLE(i integer, status text, from_allowance numeric, from_grants numeric, overage numeric, overage_cost numeric, grant_takes jsonb, remaining numeric, consumed_before numeric, consumed_after numeric, allowance numeric, limit_used integer, plan_name text, budget jsonb, budget_takes jsonb)
 LANGUAGE sql
AS $function$
        SELECT * FROM consume_credits_many(NULL, p_now, p_grace_minutes, p_items)
      $function$
`;
