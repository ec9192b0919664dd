/**
 * The live definition of `period_plan`: the one place its SQL lives. To change it, edit it here and add a
 * migration that applies it again (`applySqlFunctions(queryRunner, ['period_plan'])`); test/sql-functions.e2e-spec.ts
 * fails while the database's body differs from this file.
 */
export const periodPlan = String.raw`CREATE OR REPLACE FUNCTION period_plan(p_org text, p_period date, p_now timestamp with time zone)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
        SELECT coalesce(
          (SELECT h.plan_name FROM organization_plans h
            WHERE h.organization_id = p_org
              AND h.effective_from < ((p_period + interval '1 month')::timestamp AT TIME ZONE 'UTC')
            ORDER BY h.effective_from DESC LIMIT 1),
          (SELECT o.plan_name FROM organizations o WHERE o.id = p_org))
      $function$
`;
