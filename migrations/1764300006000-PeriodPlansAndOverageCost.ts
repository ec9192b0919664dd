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
 * Lock order, everywhere: organization row (only when a balance row must be created), then balance rows
 * in period order, then top-up grants.
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
      CREATE FUNCTION consume_credits(
        p_org text, p_period date, p_amount numeric, p_limit_key text, p_now timestamptz, p_grace_minutes integer,
        OUT status text, OUT from_allowance numeric, OUT from_grants numeric, OUT overage numeric, OUT overage_cost numeric,
        OUT grant_takes jsonb, OUT remaining numeric, OUT consumed_before numeric, OUT consumed_after numeric,
        OUT allowance numeric, OUT limit_used integer, OUT plan_name text)
      LANGUAGE plpgsql AS $$
      #variable_conflict use_column
      DECLARE
        b period_balances%ROWTYPE;
        v_plan jsonb;
        v_rate numeric;
        v_limit integer;
        v_cap numeric;
        v_cost numeric := 0;
        v_open numeric;
        v_grants numeric;
        v_need numeric;
        v_take numeric;
        g record;
      BEGIN
        from_allowance := 0; from_grants := 0; overage := 0; overage_cost := 0; grant_takes := '[]'::jsonb;
        remaining := 0; consumed_before := 0; consumed_after := 0; allowance := 0; limit_used := 0;
        -- SPEC 5: only the current period, or the previous one until its end plus the grace window; and
        -- never a period whose close has started (checked again under the balance row lock below).
        IF NOT period_accepts_events(p_period, p_now, p_grace_minutes)
           OR EXISTS (SELECT 1 FROM period_closes pc WHERE pc.period_start = p_period) THEN
          status := 'PERIOD_CLOSED';
          RETURN;
        END IF;
        PERFORM ensure_period_balance(p_org, p_period, p_now);
        SELECT * INTO b FROM period_balances WHERE organization_id = p_org AND period_start = p_period FOR UPDATE;
        IF EXISTS (SELECT 1 FROM period_closes pc WHERE pc.period_start = p_period) THEN
          status := 'PERIOD_CLOSED';
          RETURN;
        END IF;

        -- The period's plan as the balance row records it (a plan change rewrites the row under this lock).
        SELECT p.config INTO v_plan FROM plan_definitions p WHERE p.name = b.plan_name;
        v_rate := (v_plan->>'overageRate')::numeric;
        v_limit := CASE WHEN p_limit_key IS NULL THEN NULL ELSE (v_plan->'limits'->>p_limit_key)::integer END;
        SELECT o.spend_cap INTO v_cap FROM organizations o WHERE o.id = p_org;

        plan_name := b.plan_name;
        allowance := b.allowance;
        consumed_before := b.consumed;
        consumed_after := b.consumed;
        limit_used := CASE p_limit_key WHEN 'aiCallsPerMonth' THEN b.ai_calls WHEN 'pdfExportsPerMonth' THEN b.pdf_exports
                                       WHEN 'sessionLimit' THEN b.sessions ELSE 0 END;
        v_open := greatest(b.allowance - b.allowance_used, 0);
        SELECT coalesce(sum(cg.remaining), 0) INTO v_grants FROM credit_grants cg
         WHERE cg.organization_id = p_org AND cg.remaining > 0 AND (cg.expires_at IS NULL OR cg.expires_at > p_now);
        remaining := v_open + v_grants;

        IF v_limit IS NOT NULL AND limit_used + 1 > v_limit THEN
          status := 'LIMIT_EXCEEDED';
          RETURN;
        END IF;

        from_allowance := least(p_amount, v_open);
        v_need := p_amount - from_allowance;
        IF v_need > 0 THEN
          -- Top-ups are shared by every period of the organization: lock them before counting on them.
          SELECT coalesce(sum(cg.remaining), 0) INTO v_grants FROM (
            SELECT remaining FROM credit_grants
             WHERE organization_id = p_org AND remaining > 0 AND (expires_at IS NULL OR expires_at > p_now)
             FOR UPDATE) cg;
          remaining := v_open + v_grants;
          from_grants := least(v_need, v_grants);
          overage := v_need - from_grants;
        END IF;

        IF overage > 0 THEN
          v_cost := overage * coalesce(v_rate, 0);
          -- The cap counts the money recorded so far (each at the rate of its time), not today's rate.
          IF NOT (coalesce(v_rate, 0) > 0 AND (v_cap IS NULL OR b.overage_cost + v_cost <= v_cap)) THEN
            status := 'CREDITS_EXHAUSTED';
            from_allowance := 0; from_grants := 0; overage := 0;
            RETURN;
          END IF;
        END IF;

        v_need := from_grants;
        IF v_need > 0 THEN
          FOR g IN SELECT id, remaining AS left_over FROM credit_grants
                    WHERE organization_id = p_org AND remaining > 0 AND (expires_at IS NULL OR expires_at > p_now)
                    ORDER BY expires_at ASC NULLS LAST, created_at, id LOOP
            EXIT WHEN v_need <= 0;
            v_take := least(v_need, g.left_over);
            UPDATE credit_grants SET remaining = remaining - v_take WHERE organization_id = p_org AND id = g.id;
            grant_takes := grant_takes || jsonb_build_array(jsonb_build_object('grantId', g.id, 'credits', v_take));
            v_need := v_need - v_take;
          END LOOP;
        END IF;

        UPDATE period_balances SET
          allowance_used = allowance_used + from_allowance,
          grants_used = grants_used + from_grants,
          overage_used = overage_used + overage,
          overage_cost = overage_cost + v_cost,
          consumed = consumed + p_amount,
          events = events + 1,
          ai_calls = ai_calls + (p_limit_key IS NOT DISTINCT FROM 'aiCallsPerMonth')::int,
          pdf_exports = pdf_exports + (p_limit_key IS NOT DISTINCT FROM 'pdfExportsPerMonth')::int,
          sessions = sessions + (p_limit_key IS NOT DISTINCT FROM 'sessionLimit')::int,
          updated_at = p_now
        WHERE organization_id = p_org AND period_start = p_period;

        overage_cost := v_cost;
        consumed_after := b.consumed + p_amount;
        remaining := remaining - from_allowance - from_grants;
        limit_used := limit_used + CASE WHEN p_limit_key IS NULL THEN 0 ELSE 1 END;
        status := 'OK';
      END $$`);

    await queryRunner.query(`
      CREATE FUNCTION consume_credits_many(p_org text, p_now timestamptz, p_grace_minutes integer, p_items jsonb)
      RETURNS TABLE (i integer, status text, from_allowance numeric, from_grants numeric, overage numeric, overage_cost numeric,
                     grant_takes jsonb, remaining numeric, consumed_before numeric, consumed_after numeric, allowance numeric,
                     limit_used integer, plan_name text)
      LANGUAGE plpgsql AS $$
      DECLARE
        it record;
        r record;
        v_period date;
      BEGIN
        -- Every balance row the batch needs exists before the first one is locked: creating one takes the
        -- organization row lock, which must never be asked for while a balance row lock is held.
        FOR v_period IN SELECT DISTINCT x.period FROM jsonb_to_recordset(p_items) AS x(period date) ORDER BY 1 LOOP
          IF period_accepts_events(v_period, p_now, p_grace_minutes) THEN
            PERFORM ensure_period_balance(p_org, v_period, p_now);
          END IF;
        END LOOP;
        FOR it IN SELECT * FROM jsonb_to_recordset(p_items) AS x(i integer, period date, amount numeric, limit_key text) ORDER BY x.i LOOP
          SELECT * INTO r FROM consume_credits(p_org, it.period, it.amount, it.limit_key, p_now, p_grace_minutes);
          i := it.i; status := r.status; from_allowance := r.from_allowance; from_grants := r.from_grants;
          overage := r.overage; overage_cost := r.overage_cost; grant_takes := r.grant_takes; remaining := r.remaining;
          consumed_before := r.consumed_before; consumed_after := r.consumed_after; allowance := r.allowance;
          limit_used := r.limit_used; plan_name := r.plan_name;
          RETURN NEXT;
        END LOOP;
      END $$`);

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
