/**
 * The live definition of `consume_credits`: the one place its SQL lives. To change it, edit it here and add a
 * migration that applies it again (`applySqlFunctions(queryRunner, ['consume_credits'])`); test/sql-functions.e2e-spec.ts
 * fails while the database's body differs from this file.
 */
export const consumeCredits = String.raw`CREATE OR REPLACE FUNCTION consume_credits(p_org text, p_period date, p_amount numeric, p_limit_key text, p_now timestamp with time zone, p_grace_minutes integer, p_api_key_id text DEFAULT NULL::text, p_user_id text DEFAULT NULL::text, p_day date DEFAULT NULL::date, OUT status text, OUT from_allowance numeric, OUT from_grants numeric, OUT overage numeric, OUT overage_cost numeric, OUT grant_takes jsonb, OUT remaining numeric, OUT consumed_before numeric, OUT consumed_after numeric, OUT allowance numeric, OUT limit_used integer, OUT plan_name text, OUT budget jsonb, OUT budget_takes jsonb)
 RETURNS record
 LANGUAGE sql
AS $function$
        -- One event is a batch of one: the rules exist once, in consume_credits_many.
        SELECT status, from_allowance, from_grants, overage, overage_cost, grant_takes, remaining, consumed_before, consumed_after,
               allowance, limit_used, plan_name, budget, budget_takes
          FROM consume_credits_many(p_org, p_now, p_grace_minutes,
                                    jsonb_build_array(jsonb_build_object('i', 0, 'period', p_period, 'amount', p_amount, 'limit_key', p_limit_key,
                                                                         'api_key_id', p_api_key_id, 'user_id', p_user_id, 'day', p_day)))
      $function$
`;
