/**
 * The live definition of `ensure_period_balance`: the one place its SQL lives. To change it, edit it here and add a
 * migration that applies it again (`applySqlFunctions(queryRunner, ['ensure_period_balance'])`); test/sql-functions.e2e-spec.ts
 * fails while the database's body differs from this file.
 */
export const ensurePeriodBalance = String.raw`CREATE OR REPLACE FUNCTION ensure_period_balance(p_org text, p_period date, p_now timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
      DECLARE
        v_plan text;
      BEGIN
        IF EXISTS (SELECT 1 FROM period_balances b WHERE b.organization_id = p_org AND b.period_start = p_period) THEN
          RETURN;
        END IF;
        -- The organization row lock orders this against plan changes, which lock it before they update
        -- balance rows: either the change committed first (we read its plan) or it waits for us and then
        -- updates the row we create.
        PERFORM 1 FROM organizations o WHERE o.id = p_org FOR SHARE;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'organization % does not exist', p_org USING ERRCODE = 'foreign_key_violation';
        END IF;
        v_plan := period_plan(p_org, p_period, p_now);
        INSERT INTO period_balances (organization_id, period_start, plan_name, allowance, updated_at)
        SELECT p_org, p_period, v_plan, (p.config->>'monthlyCredits')::numeric, p_now FROM plan_definitions p WHERE p.name = v_plan
        ON CONFLICT DO NOTHING;
      END $function$
`;
