/**
 * The live definition of `refund_credits`: the one place its SQL lives. To change it, edit it here and add a
 * migration that applies it again (`applySqlFunctions(queryRunner, ['refund_credits'])`); test/sql-functions.e2e-spec.ts
 * fails while the database's body differs from this file.
 */
export const refundCredits = String.raw`CREATE OR REPLACE FUNCTION refund_credits(p_org text, p_period date, p_from_allowance numeric, p_from_grants numeric, p_overage numeric, p_overage_cost numeric, p_grant_takes jsonb, p_limit_key text, p_now timestamp with time zone, p_budget_takes jsonb DEFAULT '[]'::jsonb, p_run_id uuid DEFAULT NULL::uuid)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
      #variable_conflict use_column
      DECLARE
        t jsonb;
      BEGIN
        PERFORM 1 FROM period_balances WHERE organization_id = p_org AND period_start = p_period FOR UPDATE;
        UPDATE period_balances SET
          allowance_used = allowance_used - p_from_allowance,
          grants_used = grants_used - p_from_grants,
          overage_used = overage_used - p_overage,
          overage_cost = overage_cost - p_overage_cost,
          consumed = consumed - (p_from_allowance + p_from_grants + p_overage),
          events = events - 1,
          updated_at = p_now
        WHERE organization_id = p_org AND period_start = p_period;
        -- Every count limit it counted toward (p_limit_key: the comma-separated names) gets its count back,
        -- under the balance row lock taken above, as the debit counts them.
        IF p_limit_key IS NOT NULL THEN
          UPDATE period_limit_counts c SET used = c.used - 1, updated_at = p_now
           WHERE c.organization_id = p_org AND c.period_start = p_period AND c.limit_name = ANY (string_to_array(p_limit_key, ','));
        END IF;
        -- The budgets it was charged to get it back, in the windows it was charged in.
        UPDATE budget_usage bg SET used = bg.used - x.credits, updated_at = p_now
          FROM (SELECT (e->>'budgetId')::uuid AS budget_id, (e->>'window')::date AS window_start, sum((e->>'credits')::numeric) AS credits
                  FROM jsonb_array_elements(coalesce(p_budget_takes, '[]'::jsonb)) AS e GROUP BY 1, 2) AS x
         WHERE bg.organization_id = p_org AND bg.budget_id = x.budget_id AND bg.window_start = x.window_start;
        -- The run it was charged to, and every ancestor, get it back (locked in id order, as the debit locks them).
        IF p_run_id IS NOT NULL THEN
          PERFORM 1 FROM runs ru
           WHERE ru.organization_id = p_org AND ru.id = ANY ((SELECT r2.path FROM runs r2 WHERE r2.organization_id = p_org AND r2.id = p_run_id)::uuid[])
           ORDER BY ru.id FOR NO KEY UPDATE;
          UPDATE runs ru SET used = ru.used - (p_from_allowance + p_from_grants + p_overage)
           WHERE ru.organization_id = p_org AND ru.id = ANY ((SELECT r2.path FROM runs r2 WHERE r2.organization_id = p_org AND r2.id = p_run_id)::uuid[]);
        END IF;
        FOR t IN SELECT * FROM jsonb_array_elements(p_grant_takes) LOOP
          UPDATE credit_grants SET remaining = remaining + (t->>'credits')::numeric
           WHERE organization_id = p_org AND id = (t->>'grantId')::uuid;
        END LOOP;
      END $function$
`;
