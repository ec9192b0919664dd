import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Closes the ledger's holes (issue 12) in the one statement that debits:
 *
 *  - A period's plan, and so its allowance, overage rate and count limits, is decided inside the debit from
 *    the organization's plan history (`organization_plans`, effective dates), never from a value the caller
 *    read before its transaction. The balance row is born in `ensure_period_balance`, which first takes the
 *    organization row lock (FOR SHARE); a plan change takes that row lock (UPDATE) before it updates balance
 *    rows, so a plan change and the first event of a period cannot interleave into a wrong allowance.
 *  - An event is accepted only for the current period, or for the previous one while `now` is before its
 *    end plus the grace window; anything older is PERIOD_CLOSED whether or not the close job has run. `now`
 *    and the grace are passed in (the injected clock), so no instance's clock decides.
 *  - Overage is recorded with its cost at the rate in force when it was consumed (`overage_cost` on the
 *    event, the balance and a pending reservation); the spend cap and invoices count that recorded money.
 *
 * And one set-based pass per batch (issue 13): consume_credits_many locks each balance row of the batch once,
 * decides every event in order in memory (the rules of SPEC section 4, written once, here), then writes with
 * a constant number of statements whatever the batch size: one UPDATE per balance row touched and one for
 * the top-ups taken. consume_credits (one event) is that same function with one item.
 *
 * Lock order, everywhere: organization row (only when a balance row must be created), then balance rows
 * in period order, then top-up grants (only once an event needs them).
 */
export class PeriodPlansAndOverageCost1764300006000 implements MigrationInterface {
  name = 'PeriodPlansAndOverageCost1764300006000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE organization_plans (
        organization_id text NOT NULL REFERENCES organizations (id),
        effective_from  timestamptz NOT NULL,
        plan_name       text NOT NULL REFERENCES plan_definitions (name),
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (organization_id, effective_from)
      )`);
    // What the rows say today: the current plan since always, and a pending change from its date.
    await queryRunner.query(`INSERT INTO organization_plans (organization_id, effective_from, plan_name, created_at) SELECT id, '-infinity', plan_name, created_at FROM organizations`);
    await queryRunner.query(`
      INSERT INTO organization_plans (organization_id, effective_from, plan_name, created_at)
      SELECT id, pending_plan_from, pending_plan, updated_at FROM organizations WHERE pending_plan IS NOT NULL AND pending_plan_from IS NOT NULL
      ON CONFLICT DO NOTHING`);

    // USD, unrounded (credits have 2 decimals, rates up to 6): invoices round the sum, not each event.
    await queryRunner.query(`ALTER TABLE period_balances ADD COLUMN overage_cost numeric NOT NULL DEFAULT 0 CHECK (overage_cost >= 0)`);
    await queryRunner.query(`ALTER TABLE usage_events ADD COLUMN overage_cost numeric NOT NULL DEFAULT 0`);
    await queryRunner.query(`ALTER TABLE reservations ADD COLUMN overage_cost numeric NOT NULL DEFAULT 0`);
    // The plan the hold was decided under (its thresholds and rate), for a commit that takes the hold over.
    await queryRunner.query(`ALTER TABLE reservations ADD COLUMN plan_name text`);
    // Backfill at the balance row's plan rate: the best record there is of the rate in force.
    await queryRunner.query(`
      UPDATE period_balances b SET overage_cost = b.overage_used * coalesce((p.config->>'overageRate')::numeric, 0)
        FROM plan_definitions p WHERE p.name = b.plan_name AND b.overage_used > 0`);
    await queryRunner.query(`
      UPDATE usage_events e SET overage_cost = e.overage * coalesce((p.config->>'overageRate')::numeric, 0)
        FROM period_balances b JOIN plan_definitions p ON p.name = b.plan_name
       WHERE e.overage > 0 AND b.organization_id = e.organization_id AND b.period_start = e.period_start`);

    // Asynchronous events that did not fit when written: kept, visible, never charged (SPEC section 5).
    await queryRunner.query(`
      CREATE TABLE refused_events (
        organization_id text NOT NULL,
        id              uuid NOT NULL,
        occurred_at     timestamptz NOT NULL,
        recorded_at     timestamptz NOT NULL,
        event_type      text NOT NULL,
        user_id         text,
        credits         numeric(18,2),
        event_data      jsonb NOT NULL,
        error           text NOT NULL,
        message         text NOT NULL,
        source          text NOT NULL,
        idempotency_key text,
        PRIMARY KEY (organization_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX refused_events_recorded_idx ON refused_events (organization_id, recorded_at)`);

    await queryRunner.query(`DROP FUNCTION consume_credits_many(text, timestamptz, jsonb)`);
    await queryRunner.query(`DROP FUNCTION consume_credits(text, date, text, numeric, numeric, numeric, numeric, text, integer, timestamptz)`);
    await queryRunner.query(`DROP FUNCTION refund_credits(text, date, numeric, numeric, numeric, jsonb, text, timestamptz)`);

    await queryRunner.query(`
      CREATE FUNCTION period_plan(p_org text, p_period date, p_now timestamptz) RETURNS text
      LANGUAGE sql STABLE AS $$
        -- The plan in force for the period at the latest instant of it that has happened (its start for a
        -- period that has not begun, its last instant for one that has ended).
        SELECT coalesce(
          (SELECT h.plan_name FROM organization_plans h
            WHERE h.organization_id = p_org
              AND h.effective_from <= greatest(p_period::timestamp AT TIME ZONE 'UTC',
                                               least(p_now, ((p_period + interval '1 month')::timestamp AT TIME ZONE 'UTC') - interval '1 microsecond'))
            ORDER BY h.effective_from DESC LIMIT 1),
          (SELECT o.plan_name FROM organizations o WHERE o.id = p_org))
      $$`);

    await queryRunner.query(`
      CREATE FUNCTION ensure_period_balance(p_org text, p_period date, p_now timestamptz) RETURNS void
      LANGUAGE plpgsql AS $$
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
      END $$`);

    await queryRunner.query(`
      CREATE FUNCTION period_accepts_events(p_period date, p_now timestamptz, p_grace_minutes integer) RETURNS boolean
      LANGUAGE sql STABLE AS $$
        SELECT p_period >= date_trunc('month', (p_now - make_interval(mins => p_grace_minutes)) AT TIME ZONE 'UTC')::date
      $$`);

    await queryRunner.query(`
      CREATE FUNCTION consume_credits_many(p_org text, p_now timestamptz, p_grace_minutes integer, p_items jsonb)
      RETURNS TABLE (i integer, status text, from_allowance numeric, from_grants numeric, overage numeric, overage_cost numeric,
                     grant_takes jsonb, remaining numeric, consumed_before numeric, consumed_after numeric, allowance numeric,
                     limit_used integer, plan_name text)
      LANGUAGE plpgsql AS $$
      #variable_conflict use_column
      DECLARE
        v_periods date[];
        v_n integer;
        k integer;
        j integer;
        b period_balances%ROWTYPE;
        v_config jsonb;
        -- Per period k of the batch: may it take events, and its balance as the pass goes.
        s_ok boolean[] := '{}';
        s_touched boolean[] := '{}';
        s_plan text[] := '{}';
        s_rate numeric[] := '{}';
        s_limits jsonb[] := '{}';
        s_allow numeric[] := '{}';
        s_aused numeric[] := '{}';
        s_gused numeric[] := '{}';
        s_oused numeric[] := '{}';
        s_ocost numeric[] := '{}';
        s_consumed numeric[] := '{}';
        s_events bigint[] := '{}';
        s_ai integer[] := '{}';
        s_pdf integer[] := '{}';
        s_sess integer[] := '{}';
        v_cap numeric;
        -- The organization's open top-ups, earliest expiry first: read unlocked for the remaining figure,
        -- locked and loaded once the first event needs them.
        g_loaded boolean := false;
        g_ids uuid[];
        g_left numeric[];
        g_orig numeric[];
        v_gsum numeric;
        it record;
        v_open numeric;
        v_need numeric;
        v_take numeric;
        v_cost numeric;
        v_limit integer;
      BEGIN
        SELECT array_agg(DISTINCT x.period ORDER BY x.period) INTO v_periods FROM jsonb_to_recordset(p_items) AS x(period date);
        v_n := coalesce(array_length(v_periods, 1), 0);

        -- 1. Every balance row the batch needs exists before the first is locked: creating one takes the
        --    organization row lock, never to be asked for while a balance row lock is held.
        FOR k IN 1..v_n LOOP
          s_ok[k] := period_accepts_events(v_periods[k], p_now, p_grace_minutes)
                     AND NOT EXISTS (SELECT 1 FROM period_closes pc WHERE pc.period_start = v_periods[k]);
          IF s_ok[k] THEN
            PERFORM ensure_period_balance(p_org, v_periods[k], p_now);
          END IF;
        END LOOP;

        -- 2. Lock each balance row once, in period order, and read its plan (as the row records it: a plan
        --    change rewrites the row under this same lock).
        FOR k IN 1..v_n LOOP
          s_touched[k] := false;
          IF s_ok[k] THEN
            SELECT * INTO b FROM period_balances WHERE organization_id = p_org AND period_start = v_periods[k] FOR UPDATE;
            -- The close job marks a period before it takes this lock: seen here, the period is closed.
            s_ok[k] := NOT EXISTS (SELECT 1 FROM period_closes pc WHERE pc.period_start = v_periods[k]);
            SELECT pd.config INTO v_config FROM plan_definitions pd WHERE pd.name = b.plan_name;
            s_plan[k] := b.plan_name;
            s_rate[k] := (v_config->>'overageRate')::numeric;
            s_limits[k] := coalesce(v_config->'limits', '{}'::jsonb);
            s_allow[k] := b.allowance;
            s_aused[k] := b.allowance_used;
            s_gused[k] := b.grants_used;
            s_oused[k] := b.overage_used;
            s_ocost[k] := b.overage_cost;
            s_consumed[k] := b.consumed;
            s_events[k] := b.events;
            s_ai[k] := b.ai_calls;
            s_pdf[k] := b.pdf_exports;
            s_sess[k] := b.sessions;
          END IF;
        END LOOP;
        SELECT o.spend_cap INTO v_cap FROM organizations o WHERE o.id = p_org;
        SELECT coalesce(sum(cg.remaining), 0) INTO v_gsum FROM credit_grants cg
         WHERE cg.organization_id = p_org AND cg.remaining > 0 AND (cg.expires_at IS NULL OR cg.expires_at > p_now);

        -- 3. Decide every event in order, in memory.
        FOR it IN SELECT * FROM jsonb_to_recordset(p_items) AS x(i integer, period date, amount numeric, limit_key text) ORDER BY x.i LOOP
          k := array_position(v_periods, it.period);
          i := it.i;
          from_allowance := 0; from_grants := 0; overage := 0; overage_cost := 0; grant_takes := '[]'::jsonb;
          remaining := 0; consumed_before := 0; consumed_after := 0; allowance := 0; limit_used := 0; plan_name := NULL;
          IF NOT s_ok[k] THEN
            status := 'PERIOD_CLOSED';
            RETURN NEXT;
            CONTINUE;
          END IF;
          plan_name := s_plan[k];
          allowance := s_allow[k];
          consumed_before := s_consumed[k];
          consumed_after := s_consumed[k];
          limit_used := CASE it.limit_key WHEN 'aiCallsPerMonth' THEN s_ai[k] WHEN 'pdfExportsPerMonth' THEN s_pdf[k]
                                          WHEN 'sessionLimit' THEN s_sess[k] ELSE 0 END;
          v_open := greatest(s_allow[k] - s_aused[k], 0);
          remaining := v_open + v_gsum;
          v_limit := CASE WHEN it.limit_key IS NULL THEN NULL ELSE (s_limits[k]->>it.limit_key)::integer END;
          IF v_limit IS NOT NULL AND limit_used + 1 > v_limit THEN
            status := 'LIMIT_EXCEEDED';
            RETURN NEXT;
            CONTINUE;
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
                       WHERE organization_id = p_org AND remaining > 0 AND (expires_at IS NULL OR expires_at > p_now)
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
          s_ai[k] := s_ai[k] + (it.limit_key IS NOT DISTINCT FROM 'aiCallsPerMonth')::int;
          s_pdf[k] := s_pdf[k] + (it.limit_key IS NOT DISTINCT FROM 'pdfExportsPerMonth')::int;
          s_sess[k] := s_sess[k] + (it.limit_key IS NOT DISTINCT FROM 'sessionLimit')::int;

          overage_cost := v_cost;
          consumed_after := s_consumed[k];
          remaining := remaining - from_allowance - from_grants;
          limit_used := limit_used + CASE WHEN it.limit_key IS NULL THEN 0 ELSE 1 END;
          status := 'OK';
          RETURN NEXT;
        END LOOP;

        -- 4. Write: one UPDATE per balance row touched, one for the top-ups taken.
        FOR k IN 1..v_n LOOP
          IF s_touched[k] THEN
            UPDATE period_balances SET
              allowance_used = s_aused[k], grants_used = s_gused[k], overage_used = s_oused[k], overage_cost = s_ocost[k],
              consumed = s_consumed[k], events = s_events[k], ai_calls = s_ai[k], pdf_exports = s_pdf[k], sessions = s_sess[k],
              updated_at = p_now
            WHERE organization_id = p_org AND period_start = v_periods[k];
          END IF;
        END LOOP;
        IF g_loaded THEN
          UPDATE credit_grants cg SET remaining = x.left_over
            FROM unnest(g_ids, g_left, g_orig) AS x(id, left_over, original)
           WHERE cg.organization_id = p_org AND cg.id = x.id AND x.left_over <> x.original;
        END IF;
      END $$`);

    await queryRunner.query(`
      CREATE FUNCTION consume_credits(
        p_org text, p_period date, p_amount numeric, p_limit_key text, p_now timestamptz, p_grace_minutes integer,
        OUT status text, OUT from_allowance numeric, OUT from_grants numeric, OUT overage numeric, OUT overage_cost numeric,
        OUT grant_takes jsonb, OUT remaining numeric, OUT consumed_before numeric, OUT consumed_after numeric,
        OUT allowance numeric, OUT limit_used integer, OUT plan_name text)
      LANGUAGE sql AS $$
        -- One event is a batch of one: the rules exist once, in consume_credits_many.
        SELECT status, from_allowance, from_grants, overage, overage_cost, grant_takes, remaining, consumed_before, consumed_after,
               allowance, limit_used, plan_name
          FROM consume_credits_many(p_org, p_now, p_grace_minutes,
                                    jsonb_build_array(jsonb_build_object('i', 0, 'period', p_period, 'amount', p_amount, 'limit_key', p_limit_key)))
      $$`);

    await queryRunner.query(`
      CREATE FUNCTION refund_credits(
        p_org text, p_period date, p_from_allowance numeric, p_from_grants numeric, p_overage numeric, p_overage_cost numeric,
        p_grant_takes jsonb, p_limit_key text, p_now timestamptz) RETURNS void
      LANGUAGE plpgsql AS $$
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
          ai_calls = ai_calls - (p_limit_key IS NOT DISTINCT FROM 'aiCallsPerMonth')::int,
          pdf_exports = pdf_exports - (p_limit_key IS NOT DISTINCT FROM 'pdfExportsPerMonth')::int,
          sessions = sessions - (p_limit_key IS NOT DISTINCT FROM 'sessionLimit')::int,
          updated_at = p_now
        WHERE organization_id = p_org AND period_start = p_period;
        FOR t IN SELECT * FROM jsonb_array_elements(p_grant_takes) LOOP
          UPDATE credit_grants SET remaining = remaining + (t->>'credits')::numeric
           WHERE organization_id = p_org AND id = (t->>'grantId')::uuid;
        END LOOP;
      END $$`);
  }

  async down(): Promise<void> {
    throw new Error('PeriodPlansAndOverageCost1764300006000 is not reversible: restore from a backup');
  }
}
