/**
 * The live definition of `reserve_credits`: the one place its SQL lives. To change it, edit it here and add a
 * migration that applies it again (`applySqlFunctions(queryRunner, ['reserve_credits'])`); test/sql-functions.e2e-spec.ts
 * fails while the database's body differs from this file.
 */
export const reserveCredits = String.raw`CREATE OR REPLACE FUNCTION reserve_credits(p_org text, p_id uuid, p_period date, p_amount numeric, p_limit_key text, p_now timestamp with time zone, p_grace_minutes integer, p_key text, p_key_hash text, p_request_hash text, p_occurred_at timestamp with time zone, p_event_type text, p_user_id text, p_event_data jsonb, p_context jsonb, p_expires_at timestamp with time zone, p_api_key_id text, p_day date)
 RETURNS TABLE(status text, from_allowance numeric, from_grants numeric, overage numeric, overage_cost numeric, grant_takes jsonb, remaining numeric, consumed_before numeric, consumed_after numeric, allowance numeric, limit_used integer, plan_name text, reservation_id uuid, budget jsonb, budget_takes jsonb)
 LANGUAGE plpgsql
AS $function$
      #variable_conflict use_column
      DECLARE
        r record;
      BEGIN
        IF p_key IS NOT NULL THEN
          -- Waits for a transaction that holds the same key, then finds it taken (or free again).
          INSERT INTO idempotency_keys (organization_id, key, request_hash, created_at) VALUES (p_org, p_key, p_key_hash, p_now) ON CONFLICT DO NOTHING;
          IF NOT FOUND THEN
            status := 'KEY_TAKEN';
            RETURN NEXT;
            RETURN;
          END IF;
        END IF;
        SELECT * INTO r FROM consume_credits(p_org, p_period, p_amount, p_limit_key, p_now, p_grace_minutes, p_api_key_id, p_user_id, p_day);
        status := r.status; from_allowance := r.from_allowance; from_grants := r.from_grants; overage := r.overage;
        overage_cost := r.overage_cost; grant_takes := r.grant_takes; remaining := r.remaining; consumed_before := r.consumed_before;
        consumed_after := r.consumed_after; allowance := r.allowance; limit_used := r.limit_used; plan_name := r.plan_name;
        budget := r.budget; budget_takes := r.budget_takes;
        IF r.status <> 'OK' THEN
          -- Nothing was debited: the key goes back, so a later attempt can use it.
          IF p_key IS NOT NULL THEN
            DELETE FROM idempotency_keys k WHERE k.organization_id = p_org AND k.key = p_key AND k.event_id IS NULL;
          END IF;
          RETURN NEXT;
          RETURN;
        END IF;
        INSERT INTO reservations (organization_id, id, status, period_start, occurred_at, event_type, user_id, event_data, credits,
                                  from_allowance, from_grants, overage, overage_cost, grant_takes, limit_key, idempotency_key, request_hash,
                                  context, expires_at, created_at, consumed_before, consumed_after, allowance, remaining_after, plan_name,
                                  api_key_id, budget_takes)
        VALUES (p_org, p_id, 'pending', p_period, p_occurred_at, p_event_type, p_user_id, p_event_data, p_amount,
                r.from_allowance, r.from_grants, r.overage, r.overage_cost, r.grant_takes, p_limit_key, p_key, p_request_hash,
                p_context, p_expires_at, p_now, r.consumed_before, r.consumed_after, r.allowance, r.remaining, r.plan_name,
                p_api_key_id, r.budget_takes);
        reservation_id := p_id;
        RETURN NEXT;
      END $function$
`;
