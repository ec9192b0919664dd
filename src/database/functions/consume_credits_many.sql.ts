/**
 * The live definition of `consume_credits_many`: the one place its SQL lives. To change it, edit it here and add a
 * migration that applies it again (`applySqlFunctions(queryRunner, ['consume_credits_many'])`); test/sql-functions.e2e-spec.ts
 * fails while the database's body differs from this file.
 */
export const consumeCreditsMany = String.raw`CREATE OR REPLACE FUNCTION consume_credits_many(p_org text, p_now timestamp with time zone, p_grace_minutes integer, p_items jsonb)
 RETURNS TABLE(i integer, status text, from_allowance numeric, from_grants numeric, overage numeric, overage_cost numeric, grant_takes jsonb, remaining numeric, consumed_before numeric, consumed_after numeric, allowance numeric, limit_used integer, plan_name text, budget jsonb, budget_takes jsonb)
 LANGUAGE plpgsql
AS $function$
    #variable_conflict use_column
    DECLARE
      -- The batch may hold events of several organizations (an item's "org"; p_org for items without one):
      -- one call decides a whole group commit. Its slots are the (organization, period) pairs it names, in
      -- (organization, period) order: the order their balance rows are locked in.
      v_sorg text[];
      v_speriod date[];
      v_n integer;
      k integer;
      j integer;
      bl record;
      -- Per slot k: may it take events, and its balance as the pass goes.
      s_ok boolean[];
      s_touched boolean[];
      s_plan text[];
      s_rate numeric[];
      s_limits jsonb[];
      s_allow numeric[];
      s_aused numeric[];
      s_gused numeric[];
      s_oused numeric[];
      s_ocost numeric[];
      s_consumed numeric[];
      s_events bigint[];
      -- Count limits (period_limit_counts): per slot, limit name -> used as the pass goes, and what the batch adds.
      s_counts jsonb[];
      s_added jsonb[];
      v_names text[];
      v_name text;
      v_count bigint;
      -- Per organization (sorted): its spend cap and its open top-ups' sum, read unlocked for the remaining figure.
      v_orgs text[];
      o_cap numeric[];
      o_gsum numeric[];
      v_org text := NULL;
      v_cap numeric;
      -- The current organization's open top-ups, earliest expiry first: locked and loaded once its first event
      -- needs them. Organizations are decided one after the other in id order, so top-ups are locked in that order.
      g_loaded boolean := false;
      g_ids uuid[];
      g_left numeric[];
      g_orig numeric[];
      v_gsum numeric;
      -- Every organization's top-ups taken, written in one UPDATE at the end.
      ga_org text[] := '{}';
      ga_ids uuid[] := '{}';
      ga_left numeric[] := '{}';
      ga_orig numeric[] := '{}';
      it record;
      v_open numeric;
      v_need numeric;
      v_take numeric;
      v_cost numeric;
      v_limit integer;
      -- Budgets: per (budget, window) the batch may charge, its organization, limit and use as the pass goes.
      w_n integer := 0;
      w_org text[] := '{}';
      w_budget uuid[] := '{}';
      w_start date[] := '{}';
      w_scope text[] := '{}';
      w_subject text[] := '{}';
      w_period text[] := '{}';
      w_limit numeric[] := '{}';
      w_used numeric[] := '{}';
      w_orig numeric[] := '{}';
      w record;
      v_used numeric;
      v_fail integer;
      -- Runs: every run on the path of a run the batch names, locked, its budget and use as the pass goes;
      -- keyed by organization and id (an id of another organization is not found).
      r_n integer := 0;
      r_keys text[] := '{}';
      r_org text[] := '{}';
      r_ids uuid[] := '{}';
      r_budget numeric[] := '{}';
      r_used numeric[] := '{}';
      r_orig numeric[] := '{}';
      r_open boolean[] := '{}';
      r_paths jsonb := '{}';
      rr record;
      v_rpath uuid[];
      v_rid uuid;
      v_rfail integer;
      v_rclosed integer;
    BEGIN
      SELECT coalesce(array_agg(z.org ORDER BY z.org, z.period), '{}'), coalesce(array_agg(z.period ORDER BY z.org, z.period), '{}')
        INTO v_sorg, v_speriod
        FROM (SELECT DISTINCT coalesce(x.org, p_org) AS org, x.period FROM jsonb_to_recordset(p_items) AS x(org text, period date)) AS z;
      v_n := coalesce(array_length(v_sorg, 1), 0);
      SELECT coalesce(array_agg(period_accepts_events(s.period, p_now, p_grace_minutes)
                                AND NOT EXISTS (SELECT 1 FROM period_closes pc WHERE pc.period_start = s.period) ORDER BY s.k), '{}')
        INTO s_ok
        FROM unnest(v_speriod) WITH ORDINALITY AS s(period, k);
      -- Every per-slot array spans 1..v_n from the start (assigning past the end of an empty array would move
      -- its lower bound, and the final UPDATE unnests them side by side).
      s_touched := array_fill(false, ARRAY[v_n]);
      s_plan := array_fill(NULL::text, ARRAY[v_n]); s_rate := array_fill(NULL::numeric, ARRAY[v_n]);
      s_limits := array_fill(NULL::jsonb, ARRAY[v_n]); s_allow := array_fill(NULL::numeric, ARRAY[v_n]);
      s_aused := s_allow; s_gused := s_allow; s_oused := s_allow; s_ocost := s_allow; s_consumed := s_allow;
      s_events := array_fill(NULL::bigint, ARRAY[v_n]);
      s_counts := array_fill('{}'::jsonb, ARRAY[v_n]); s_added := s_counts;

      -- 1. Every balance row the batch needs exists before the first is locked: creating one takes the
      --    organization row lock, never to be asked for while a balance row lock is held.
      PERFORM ensure_period_balance(s.org, s.period, p_now)
         FROM unnest(v_sorg, v_speriod, s_ok) WITH ORDINALITY AS s(org, period, ok, k)
        WHERE s.ok AND NOT EXISTS (SELECT 1 FROM period_balances pb WHERE pb.organization_id = s.org AND pb.period_start = s.period)
        ORDER BY s.k;

      -- 2. Lock every balance row in one statement, in (organization, period) order (ORDER BY under FOR
      --    UPDATE: rows are locked as they leave the sort), and read its plan as the row records it (a plan
      --    change rewrites the row under this same lock).
      FOR bl IN
        SELECT s.k, pb.plan_name, pb.allowance, pb.allowance_used, pb.grants_used, pb.overage_used, pb.overage_cost, pb.consumed,
               pb.events, pd.config
          FROM unnest(v_sorg, v_speriod, s_ok) WITH ORDINALITY AS s(org, period, ok, k)
          JOIN period_balances pb ON pb.organization_id = s.org AND pb.period_start = s.period
          LEFT JOIN plan_definitions pd ON pd.name = pb.plan_name
         WHERE s.ok
         ORDER BY s.k
           FOR UPDATE OF pb
      LOOP
        s_plan[bl.k] := bl.plan_name;
        s_rate[bl.k] := (bl.config->>'overageRate')::numeric;
        s_limits[bl.k] := coalesce(bl.config->'limits', '{}'::jsonb);
        s_allow[bl.k] := bl.allowance;
        s_aused[bl.k] := bl.allowance_used;
        s_gused[bl.k] := bl.grants_used;
        s_oused[bl.k] := bl.overage_used;
        s_ocost[bl.k] := bl.overage_cost;
        s_consumed[bl.k] := bl.consumed;
        s_events[bl.k] := bl.events;
      END LOOP;
      -- 2a. The count limits the batch's events count toward, as used so far. Their rows have no lock of their
      --     own: every writer (this debit and refund_credits) holds the period's balance row lock, taken above.
      --     An item's limit_key is the comma-separated names of its definition's countsToward (names are
      --     identifiers: never a comma in one).
      IF EXISTS (SELECT 1 FROM jsonb_to_recordset(p_items) AS y(limit_key text) WHERE y.limit_key IS NOT NULL) THEN
        FOR bl IN
          SELECT s.k, c.limit_name, c.used
            FROM unnest(v_sorg, v_speriod, s_ok) WITH ORDINALITY AS s(org, period, ok, k)
            JOIN period_limit_counts c ON c.organization_id = s.org AND c.period_start = s.period
           WHERE s.ok
        LOOP
          s_counts[bl.k] := s_counts[bl.k] || jsonb_build_object(bl.limit_name, bl.used);
        END LOOP;
      END IF;
      -- The close job marks a period before it takes this lock: seen now, the period is closed.
      SELECT coalesce(array_agg(s.ok AND NOT EXISTS (SELECT 1 FROM period_closes pc WHERE pc.period_start = s.period) ORDER BY s.k), '{}')
        INTO s_ok
        FROM unnest(s_ok, v_speriod) WITH ORDINALITY AS s(ok, period, k);

      -- 2b. Budgets of the keys and users the batch names, one row per window it charges, locked in (budget,
      --     window) order (after the balance rows: every writer of budget_usage takes the period's balance row lock first).
      IF EXISTS (SELECT 1 FROM budgets bu WHERE bu.organization_id = ANY (v_sorg)) THEN
        FOR w IN
          SELECT bu.organization_id AS org, bu.id, bu.scope, bu.subject, bu.period, bu.credits, x.window_start
            FROM budgets bu
            JOIN (SELECT DISTINCT coalesce(y.org, p_org) AS org, y.api_key_id, y.user_id, y.period, y.day
                    FROM jsonb_to_recordset(p_items) AS y(org text, api_key_id text, user_id text, period date, day date)) AS z
              ON bu.organization_id = z.org
             AND ((bu.scope = 'apiKey' AND bu.subject = z.api_key_id) OR (bu.scope = 'user' AND bu.subject = z.user_id))
            CROSS JOIN LATERAL (SELECT CASE WHEN bu.period = 'day' THEN coalesce(z.day, z.period) ELSE date_trunc('month', coalesce(z.day, z.period))::date END AS window_start) AS x
           GROUP BY bu.organization_id, bu.id, bu.scope, bu.subject, bu.period, bu.credits, x.window_start
           ORDER BY bu.id, x.window_start
        LOOP
          INSERT INTO budget_usage (organization_id, budget_id, window_start, used, updated_at)
          VALUES (w.org, w.id, w.window_start, 0, p_now) ON CONFLICT DO NOTHING;
          SELECT bg.used INTO v_used FROM budget_usage bg
           WHERE bg.organization_id = w.org AND bg.budget_id = w.id AND bg.window_start = w.window_start FOR UPDATE;
          w_n := w_n + 1;
          w_org[w_n] := w.org; w_budget[w_n] := w.id; w_start[w_n] := w.window_start; w_scope[w_n] := w.scope; w_subject[w_n] := w.subject;
          w_period[w_n] := w.period; w_limit[w_n] := w.credits; w_used[w_n] := v_used; w_orig[w_n] := v_used;
        END LOOP;
      END IF;

      -- 2c. Runs the batch names, with every ancestor, locked in id order (after the budget windows, before
      --     the top-ups; refund_credits takes them in the same place of the same order).
      IF EXISTS (SELECT 1 FROM jsonb_to_recordset(p_items) AS y(run_id uuid) WHERE y.run_id IS NOT NULL) THEN
        SELECT coalesce(jsonb_object_agg(ru.organization_id || chr(1) || ru.id::text, to_jsonb(ru.path)), '{}') INTO r_paths
          FROM runs ru
          JOIN (SELECT DISTINCT coalesce(y.org, p_org) AS org, y.run_id FROM jsonb_to_recordset(p_items) AS y(org text, run_id uuid) WHERE y.run_id IS NOT NULL) AS z
            ON ru.organization_id = z.org AND ru.id = z.run_id;
        FOR rr IN
          SELECT ru.organization_id AS org, ru.id, ru.budget, ru.used, (ru.status = 'open' AND (ru.expires_at IS NULL OR ru.expires_at > p_now)) AS open
            FROM runs ru
           WHERE (ru.organization_id, ru.id) IN (SELECT split_part(pp.key, chr(1), 1), (jsonb_array_elements_text(pp.value))::uuid FROM jsonb_each(r_paths) AS pp)
           ORDER BY ru.id, ru.organization_id
             FOR NO KEY UPDATE
        LOOP
          r_n := r_n + 1;
          r_keys[r_n] := rr.org || chr(1) || rr.id::text;
          r_org[r_n] := rr.org;
          r_ids[r_n] := rr.id; r_budget[r_n] := rr.budget; r_used[r_n] := rr.used; r_orig[r_n] := rr.used; r_open[r_n] := rr.open;
        END LOOP;
      END IF;

      SELECT coalesce(array_agg(z.org ORDER BY z.org), '{}'), coalesce(array_agg(o.spend_cap ORDER BY z.org), '{}'),
             coalesce(array_agg((SELECT coalesce(sum(cg.remaining), 0) FROM credit_grants cg
                                  WHERE cg.organization_id = z.org AND cg.remaining > 0 AND (cg.expires_at IS NULL OR cg.expires_at > p_now)) ORDER BY z.org), '{}')
        INTO v_orgs, o_cap, o_gsum
        FROM (SELECT DISTINCT u.org FROM unnest(v_sorg) AS u(org)) AS z
        LEFT JOIN organizations o ON o.id = z.org;

      -- 3. Decide every event in memory: organization after organization (in id order), each one's events in order.
      FOR it IN
        SELECT x.i, s.org, x.period, x.amount, x.limit_key, x.api_key_id, x.user_id, x.day, x.run_id, s.k::integer AS k
          FROM jsonb_to_recordset(p_items) AS x(i integer, org text, period date, amount numeric, limit_key text, api_key_id text, user_id text, day date, run_id uuid)
          JOIN unnest(v_sorg, v_speriod) WITH ORDINALITY AS s(org, period, k) ON s.org = coalesce(x.org, p_org) AND s.period = x.period
         ORDER BY s.org, x.i
      LOOP
        IF it.org IS DISTINCT FROM v_org THEN
          IF g_loaded THEN
            ga_org := ga_org || array_fill(v_org, ARRAY[coalesce(array_length(g_ids, 1), 0)]);
            ga_ids := ga_ids || g_ids; ga_left := ga_left || g_left; ga_orig := ga_orig || g_orig;
          END IF;
          v_org := it.org;
          j := array_position(v_orgs, v_org);
          v_cap := o_cap[j];
          v_gsum := o_gsum[j];
          g_loaded := false;
        END IF;
        k := it.k;
        i := it.i;
        from_allowance := 0; from_grants := 0; overage := 0; overage_cost := 0; grant_takes := '[]'::jsonb;
        remaining := 0; consumed_before := 0; consumed_after := 0; allowance := 0; limit_used := 0; plan_name := NULL;
        budget := NULL; budget_takes := '[]'::jsonb;
        IF NOT s_ok[k] THEN
          status := 'PERIOD_CLOSED';
          RETURN NEXT;
          CONTINUE;
        END IF;
        plan_name := s_plan[k];
        allowance := s_allow[k];
        consumed_before := s_consumed[k];
        consumed_after := s_consumed[k];
        v_open := greatest(s_allow[k] - s_aused[k], 0);
        remaining := v_open + v_gsum;
        -- Every limit the event counts toward that the plan bounds must have room for one more; the first
        -- that has none refuses it (budget names it: {"limit", "max", "used"}). limit_used is the first
        -- name's count. A name the plan does not bound is counted but never refuses.
        v_names := CASE WHEN it.limit_key IS NULL THEN '{}'::text[] ELSE string_to_array(it.limit_key, ',') END;
        v_fail := NULL;
        FOR j IN 1..coalesce(array_length(v_names, 1), 0) LOOP
          v_count := coalesce((s_counts[k]->>v_names[j])::bigint, 0);
          IF j = 1 THEN limit_used := v_count; END IF;
          v_limit := (s_limits[k]->>v_names[j])::integer;
          IF v_limit IS NOT NULL AND v_count + 1 > v_limit THEN
            v_fail := j;
            limit_used := v_count;
            budget := jsonb_build_object('limit', v_names[j], 'max', v_limit, 'used', v_count);
            EXIT;
          END IF;
        END LOOP;
        IF v_fail IS NOT NULL THEN
          status := 'LIMIT_EXCEEDED';
          RETURN NEXT;
          CONTINUE;
        END IF;

        -- [amount bounds] An organization's period total stays <= MAX_PERIOD_CREDITS (src/common/money/bounds.ts):
        -- decided here, under the balance row lock, so two batches cannot pass it together.
        IF s_consumed[k] + it.amount > 10000000000 THEN
          status := 'PERIOD_CREDITS_BOUND';
          RETURN NEXT;
          CONTINUE;
        END IF;

        -- A budget of the event's key or user that it would take past its limit refuses it whole.
        v_fail := NULL;
        FOR j IN 1..w_n LOOP
          IF w_org[j] = it.org
             AND ((w_scope[j] = 'apiKey' AND w_subject[j] = it.api_key_id) OR (w_scope[j] = 'user' AND w_subject[j] = it.user_id))
             AND w_start[j] = (CASE WHEN w_period[j] = 'day' THEN coalesce(it.day, it.period) ELSE date_trunc('month', coalesce(it.day, it.period))::date END)
             AND w_used[j] + it.amount > w_limit[j] THEN
            v_fail := j;
            EXIT;
          END IF;
        END LOOP;
        IF v_fail IS NOT NULL THEN
          status := 'BUDGET_EXCEEDED';
          budget := jsonb_build_object('budgetId', w_budget[v_fail], 'scope', w_scope[v_fail], 'subject', w_subject[v_fail],
                                       'period', w_period[v_fail], 'window', w_start[v_fail], 'credits', w_limit[v_fail], 'used', w_used[v_fail]);
          RETURN NEXT;
          CONTINUE;
        END IF;

        -- A run (or an ancestor) that is closed, or whose budget the event would pass, refuses it whole: a
        -- child's budget never lets it spend past a parent's. Checked root first.
        IF it.run_id IS NOT NULL THEN
          IF NOT (r_paths ? (it.org || chr(1) || it.run_id::text)) THEN
            status := 'RUN_NOT_FOUND';
            budget := jsonb_build_object('runId', it.run_id);
            RETURN NEXT;
            CONTINUE;
          END IF;
          v_rpath := ARRAY(SELECT (jsonb_array_elements_text(r_paths->(it.org || chr(1) || it.run_id::text)))::uuid);
          v_rfail := NULL; v_rclosed := NULL;
          FOREACH v_rid IN ARRAY v_rpath LOOP
            j := array_position(r_keys, it.org || chr(1) || v_rid::text);
            IF NOT r_open[j] THEN
              v_rclosed := j;
              EXIT;
            END IF;
            IF v_rfail IS NULL AND r_budget[j] IS NOT NULL AND r_used[j] + it.amount > r_budget[j] THEN
              v_rfail := j;
            END IF;
          END LOOP;
          IF v_rclosed IS NOT NULL OR v_rfail IS NOT NULL THEN
            status := CASE WHEN v_rclosed IS NOT NULL THEN 'RUN_CLOSED' ELSE 'RUN_BUDGET_EXCEEDED' END;
            j := coalesce(v_rclosed, v_rfail);
            budget := jsonb_build_object('runId', it.run_id, 'path', to_jsonb(v_rpath), 'limitingRunId', r_ids[j],
                                         'budget', r_budget[j], 'used', r_used[j]);
            RETURN NEXT;
            CONTINUE;
          END IF;
        END IF;

        from_allowance := least(it.amount, v_open);
        v_need := it.amount - from_allowance;
        IF v_need > 0 THEN
          IF NOT g_loaded THEN
            -- Top-ups are shared by every period of the organization: lock them before counting on them.
            SELECT coalesce(array_agg(g.id ORDER BY g.expires_at ASC NULLS LAST, g.created_at, g.id), '{}'),
                   coalesce(array_agg(g.remaining ORDER BY g.expires_at ASC NULLS LAST, g.created_at, g.id), '{}')
              INTO g_ids, g_left
              FROM (SELECT id, remaining, expires_at, created_at FROM credit_grants
                     WHERE organization_id = it.org AND remaining > 0 AND (expires_at IS NULL OR expires_at > p_now)
                     FOR UPDATE) g;
            g_orig := g_left;
            g_loaded := true;
            v_gsum := 0;
            FOR j IN 1..coalesce(array_length(g_left, 1), 0) LOOP
              v_gsum := v_gsum + g_left[j];
            END LOOP;
            remaining := v_open + v_gsum;
          END IF;
          from_grants := least(v_need, v_gsum);
          overage := v_need - from_grants;
        END IF;

        v_cost := 0;
        IF overage > 0 THEN
          v_cost := overage * coalesce(s_rate[k], 0);
          -- [amount bounds] The period's overage money stays <= MAX_PERIOD_OVERAGE_COST_USD (bounds.ts).
          IF s_ocost[k] + v_cost > 1000000000000 THEN
            status := 'PERIOD_COST_BOUND';
            from_allowance := 0; from_grants := 0; overage := 0;
            RETURN NEXT;
            CONTINUE;
          END IF;
          -- The cap counts the money recorded so far (each at the rate of its time), not today's rate.
          IF NOT (coalesce(s_rate[k], 0) > 0 AND (v_cap IS NULL OR s_ocost[k] + v_cost <= v_cap)) THEN
            status := 'CREDITS_EXHAUSTED';
            from_allowance := 0; from_grants := 0; overage := 0;
            RETURN NEXT;
            CONTINUE;
          END IF;
        END IF;

        v_need := from_grants;
        j := 1;
        WHILE v_need > 0 LOOP
          v_take := least(v_need, g_left[j]);
          IF v_take > 0 THEN
            g_left[j] := g_left[j] - v_take;
            grant_takes := grant_takes || jsonb_build_array(jsonb_build_object('grantId', g_ids[j], 'credits', v_take));
            v_need := v_need - v_take;
          END IF;
          j := j + 1;
        END LOOP;
        v_gsum := v_gsum - from_grants;

        s_touched[k] := true;
        s_aused[k] := s_aused[k] + from_allowance;
        s_gused[k] := s_gused[k] + from_grants;
        s_oused[k] := s_oused[k] + overage;
        s_ocost[k] := s_ocost[k] + v_cost;
        s_consumed[k] := s_consumed[k] + it.amount;
        s_events[k] := s_events[k] + 1;
        FOREACH v_name IN ARRAY v_names LOOP
          s_counts[k] := s_counts[k] || jsonb_build_object(v_name, coalesce((s_counts[k]->>v_name)::bigint, 0) + 1);
          s_added[k] := s_added[k] || jsonb_build_object(v_name, coalesce((s_added[k]->>v_name)::bigint, 0) + 1);
        END LOOP;

        FOR j IN 1..w_n LOOP
          IF w_org[j] = it.org
             AND ((w_scope[j] = 'apiKey' AND w_subject[j] = it.api_key_id) OR (w_scope[j] = 'user' AND w_subject[j] = it.user_id))
             AND w_start[j] = (CASE WHEN w_period[j] = 'day' THEN coalesce(it.day, it.period) ELSE date_trunc('month', coalesce(it.day, it.period))::date END) THEN
            budget_takes := budget_takes || jsonb_build_array(jsonb_build_object(
              'budgetId', w_budget[j], 'window', w_start[j], 'scope', w_scope[j], 'subject', w_subject[j], 'period', w_period[j],
              'limit', w_limit[j], 'before', w_used[j], 'after', w_used[j] + it.amount, 'credits', it.amount));
            w_used[j] := w_used[j] + it.amount;
          END IF;
        END LOOP;

        overage_cost := v_cost;
        consumed_after := s_consumed[k];
        remaining := remaining - from_allowance - from_grants;
        limit_used := limit_used + CASE WHEN cardinality(v_names) = 0 THEN 0 ELSE 1 END;
        IF it.run_id IS NOT NULL THEN
          FOREACH v_rid IN ARRAY v_rpath LOOP
            j := array_position(r_keys, it.org || chr(1) || v_rid::text);
            r_used[j] := r_used[j] + it.amount;
          END LOOP;
        END IF;
        status := 'OK';
        RETURN NEXT;
      END LOOP;
      IF g_loaded THEN
        ga_org := ga_org || array_fill(v_org, ARRAY[coalesce(array_length(g_ids, 1), 0)]);
        ga_ids := ga_ids || g_ids; ga_left := ga_left || g_left; ga_orig := ga_orig || g_orig;
      END IF;

      -- 4. Write: one UPDATE for every balance row touched, one for the windows, runs and top-ups taken.
      IF true = ANY (s_touched) THEN
        UPDATE period_balances pb SET
          allowance_used = x.aused, grants_used = x.gused, overage_used = x.oused, overage_cost = x.ocost,
          consumed = x.consumed, events = x.events, updated_at = p_now
          FROM unnest(v_sorg, v_speriod, s_touched, s_aused, s_gused, s_oused, s_ocost, s_consumed, s_events)
               AS x(org, period, touched, aused, gused, oused, ocost, consumed, events)
         WHERE x.touched AND pb.organization_id = x.org AND pb.period_start = x.period;
        -- Counters move by what the batch added (an increment, not a value read earlier written back).
        INSERT INTO period_limit_counts AS c (organization_id, period_start, limit_name, used, updated_at)
        SELECT x.org, x.period, a.key, a.value::bigint, p_now
          FROM unnest(v_sorg, v_speriod, s_added) AS x(org, period, added)
          CROSS JOIN LATERAL jsonb_each_text(x.added) AS a(key, value)
         ORDER BY x.org, x.period, a.key
        ON CONFLICT (organization_id, period_start, limit_name) DO UPDATE SET used = c.used + EXCLUDED.used, updated_at = EXCLUDED.updated_at;
      END IF;
      IF w_n > 0 THEN
        UPDATE budget_usage bg SET used = x.used, updated_at = p_now
          FROM unnest(w_org, w_budget, w_start, w_used, w_orig) AS x(org, budget_id, window_start, used, original)
         WHERE bg.organization_id = x.org AND bg.budget_id = x.budget_id AND bg.window_start = x.window_start AND x.used <> x.original;
      END IF;
      IF r_n > 0 THEN
        UPDATE runs ru SET used = x.used
          FROM unnest(r_org, r_ids, r_used, r_orig) AS x(org, id, used, original)
         WHERE ru.organization_id = x.org AND ru.id = x.id AND x.used <> x.original;
      END IF;
      IF coalesce(array_length(ga_ids, 1), 0) > 0 THEN
        UPDATE credit_grants cg SET remaining = x.left_over
          FROM unnest(ga_org, ga_ids, ga_left, ga_orig) AS x(org, id, left_over, original)
         WHERE cg.organization_id = x.org AND cg.id = x.id AND x.left_over <> x.original;
      END IF;
    END $function$
`;
