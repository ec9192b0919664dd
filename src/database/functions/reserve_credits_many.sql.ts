/**
 * The live definition of `reserve_credits_many`: the one place its SQL lives. To change it, edit it here and add a
 * migration that applies it again (`applySqlFunctions(queryRunner, ['reserve_credits_many'])`); test/sql-functions.e2e-spec.ts
 * fails while the database's body differs from this file.
 */
export const reserveCreditsMany = String.raw`CREATE OR REPLACE FUNCTION reserve_credits_many(p_now timestamp with time zone, p_grace_minutes integer, p_items jsonb)
 RETURNS TABLE(i integer, status text, from_allowance numeric, from_grants numeric, overage numeric, overage_cost numeric, grant_takes jsonb, remaining numeric, consumed_before numeric, consumed_after numeric, allowance numeric, limit_used integer, plan_name text, reservation_id uuid, budget jsonb, budget_takes jsonb)
 LANGUAGE plpgsql
AS $function$
      #variable_conflict use_column
      DECLARE
        v_claimed text[];
        v_debit jsonb;
        v_results jsonb;
      BEGIN
        WITH claim AS (
          INSERT INTO idempotency_keys (organization_id, key, request_hash, created_at)
          SELECT DISTINCT ON (x.org, x.key) x.org, x.key, x.key_hash, p_now
            FROM jsonb_to_recordset(p_items) AS x(i integer, org text, key text, key_hash text)
           WHERE x.key IS NOT NULL
           ORDER BY x.org, x.key, x.i
          ON CONFLICT DO NOTHING
          RETURNING organization_id, key)
        SELECT coalesce(array_agg(c.organization_id || chr(1) || c.key), '{}') INTO v_claimed FROM claim c;

        -- What may be debited: items without a key, and the first item of each key this statement claimed.
        SELECT coalesce(jsonb_agg(jsonb_build_object('i', x.i, 'org', x.org, 'period', x.period, 'amount', x.amount, 'limit_key', x.limit_key,
                                                     'api_key_id', x.api_key_id, 'user_id', x.user_id, 'day', x.day, 'run_id', x.run_id) ORDER BY x.i), '[]')
          INTO v_debit
          FROM jsonb_to_recordset(p_items) AS x(i integer, org text, key text, period date, amount numeric, limit_key text, api_key_id text, user_id text, day date, run_id uuid)
         WHERE x.key IS NULL
            OR (x.org || chr(1) || x.key = ANY (v_claimed)
                AND x.i = (SELECT min(y.i) FROM jsonb_to_recordset(p_items) AS y(i integer, org text, key text) WHERE y.org = x.org AND y.key = x.key));

        SELECT coalesce(jsonb_agg(to_jsonb(c)), '[]') INTO v_results
          FROM consume_credits_orgs(p_now, p_grace_minutes, v_debit) AS c;

        -- Nothing was debited for a refused item: its key goes back, so a later attempt can use it.
        DELETE FROM idempotency_keys k
         USING jsonb_to_recordset(v_results) AS r(i integer, status text), jsonb_to_recordset(p_items) AS x(i integer, org text, key text)
         WHERE r.status <> 'OK' AND x.i = r.i AND x.key IS NOT NULL
           AND k.organization_id = x.org AND k.key = x.key AND k.event_id IS NULL;

        INSERT INTO reservations (organization_id, id, status, period_start, occurred_at, event_type, user_id, event_data, credits,
                                  from_allowance, from_grants, overage, overage_cost, grant_takes, limit_key, idempotency_key, request_hash,
                                  context, expires_at, created_at, consumed_before, consumed_after, allowance, remaining_after, plan_name,
                                  api_key_id, budget_takes, run_id)
        SELECT x.org, x.id, 'pending', x.period, x.occurred_at, x.event_type, x.user_id, x.event_data, x.amount,
               r.from_allowance, r.from_grants, r.overage, r.overage_cost, r.grant_takes, x.limit_key, x.key, x.request_hash,
               x.context, x.expires_at, p_now, r.consumed_before, r.consumed_after, r.allowance, r.remaining, r.plan_name,
               x.api_key_id, r.budget_takes, x.run_id
          FROM jsonb_to_recordset(v_results) AS r(i integer, status text, from_allowance numeric, from_grants numeric, overage numeric, overage_cost numeric,
                                                  grant_takes jsonb, remaining numeric, consumed_before numeric, consumed_after numeric, allowance numeric,
                                                  plan_name text, budget_takes jsonb)
          JOIN jsonb_to_recordset(p_items) AS x(i integer, org text, id uuid, period date, amount numeric, limit_key text, key text, request_hash text,
                                                occurred_at timestamptz, event_type text, user_id text, event_data jsonb, context jsonb, expires_at timestamptz,
                                                api_key_id text, run_id uuid) ON x.i = r.i
         WHERE r.status = 'OK'
         ORDER BY x.org, x.i;

        RETURN QUERY
          SELECT r.i, r.status, r.from_allowance, r.from_grants, r.overage, r.overage_cost, r.grant_takes, r.remaining, r.consumed_before,
                 r.consumed_after, r.allowance, r.limit_used, r.plan_name, CASE WHEN r.status = 'OK' THEN x.id END, r.budget, r.budget_takes
            FROM jsonb_to_recordset(v_results) AS r(i integer, status text, from_allowance numeric, from_grants numeric, overage numeric, overage_cost numeric,
                                                    grant_takes jsonb, remaining numeric, consumed_before numeric, consumed_after numeric, allowance numeric,
                                                    limit_used integer, plan_name text, budget jsonb, budget_takes jsonb)
            JOIN jsonb_to_recordset(p_items) AS x(i integer, id uuid) ON x.i = r.i
          UNION ALL
          SELECT x.i, 'KEY_TAKEN', 0::numeric, 0::numeric, 0::numeric, 0::numeric, '[]'::jsonb, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 0,
                 NULL::text, NULL::uuid, NULL::jsonb, '[]'::jsonb
            FROM jsonb_to_recordset(p_items) AS x(i integer)
           WHERE NOT EXISTS (SELECT 1 FROM jsonb_to_recordset(v_results) AS r(i integer) WHERE r.i = x.i);
      END $function$
`;
