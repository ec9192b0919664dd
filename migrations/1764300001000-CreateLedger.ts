import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Organizations, the credit ledger and the one function that moves credits.
 *
 * Invariants (checked by the reconciliation job and the tests):
 *  - period_balances.allowance_used = sum(usage_events.from_allowance) of the period, likewise grants_used,
 *    overage_used and consumed (= sum of credits);
 *  - credit_grants.amount - remaining = sum(grant_consumptions.credits) of that grant;
 *  - every tenant table leads its keys with organization_id (Citus-ready), no query joins two tenants.
 */
export class CreateLedger1764300001000 implements MigrationInterface {
  name = 'CreateLedger1764300001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE organizations (
        id                 text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
        name               text NOT NULL,
        plan_name          text NOT NULL REFERENCES plan_definitions (name),
        billing_cycle      text NOT NULL DEFAULT 'monthly' CHECK (billing_cycle IN ('monthly', 'annual')),
        spend_cap          numeric(14,2) CHECK (spend_cap >= 0),
        webhook_url        text,
        webhook_secret     text,
        pending_plan       text REFERENCES plan_definitions (name),
        pending_plan_from  timestamptz,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE organization_members (
        organization_id text NOT NULL REFERENCES organizations (id),
        user_id         text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 128),
        role            text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (organization_id, user_id)
      )`);
    await queryRunner.query(`
      CREATE TABLE credit_grants (
        organization_id text NOT NULL REFERENCES organizations (id),
        id              uuid NOT NULL,
        amount          numeric(18,2) NOT NULL CHECK (amount > 0),
        remaining       numeric(18,2) NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
        expires_at      timestamptz,
        reason          text,
        created_by      text NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (organization_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX credit_grants_open_idx ON credit_grants (organization_id, expires_at) WHERE remaining > 0`);
    await queryRunner.query(`
      CREATE TABLE period_balances (
        organization_id text NOT NULL REFERENCES organizations (id),
        period_start    date NOT NULL,
        plan_name       text NOT NULL,
        allowance       numeric(18,2) NOT NULL CHECK (allowance >= 0),
        allowance_used  numeric(18,2) NOT NULL DEFAULT 0 CHECK (allowance_used >= 0),
        grants_used     numeric(18,2) NOT NULL DEFAULT 0 CHECK (grants_used >= 0),
        overage_used    numeric(18,2) NOT NULL DEFAULT 0 CHECK (overage_used >= 0),
        consumed        numeric(18,2) NOT NULL DEFAULT 0 CHECK (consumed >= 0),
        events          bigint NOT NULL DEFAULT 0,
        ai_calls        integer NOT NULL DEFAULT 0,
        pdf_exports     integer NOT NULL DEFAULT 0,
        sessions        integer NOT NULL DEFAULT 0,
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (organization_id, period_start),
        CHECK (consumed = allowance_used + grants_used + overage_used)
      )`);
    // The ledger: one immutable row per accepted event, partitioned by month of occurred_at.
    await queryRunner.query(`
      CREATE TABLE usage_events (
        organization_id    text NOT NULL,
        occurred_at        timestamptz NOT NULL,
        id                 uuid NOT NULL,
        period_start       date NOT NULL,
        recorded_at        timestamptz NOT NULL DEFAULT now(),
        event_type         text NOT NULL,
        category           text NOT NULL,
        definition_version integer NOT NULL,
        user_id            text,
        credits            numeric(18,2) NOT NULL CHECK (credits >= 0),
        from_allowance     numeric(18,2) NOT NULL,
        from_grants        numeric(18,2) NOT NULL,
        overage            numeric(18,2) NOT NULL,
        limit_key          text,
        breakdown          jsonb NOT NULL,
        idempotency_key    text,
        endpoint           text,
        ip                 text,
        user_agent         text,
        PRIMARY KEY (organization_id, occurred_at, id),
        CHECK (credits = from_allowance + from_grants + overage)
      ) PARTITION BY RANGE (occurred_at)`);
    await queryRunner.query(`CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT`);
    await queryRunner.query(`CREATE INDEX usage_events_period_idx ON usage_events (organization_id, period_start, occurred_at)`);
    await queryRunner.query(`
      CREATE FUNCTION ensure_usage_events_partition(p_month date) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        v_start date := date_trunc('month', p_month)::date;
        v_name text := 'usage_events_' || to_char(v_start, 'YYYY_MM');
      BEGIN
        IF to_regclass(v_name) IS NULL THEN
          -- Bounds as explicit UTC instants: the session time zone must not move a month's edges.
          EXECUTE format('CREATE TABLE %I PARTITION OF usage_events FOR VALUES FROM (%L) TO (%L)',
                         v_name, v_start::text || ' 00:00:00+00', (v_start + interval '1 month')::date::text || ' 00:00:00+00');
        END IF;
      END $$`);
    await queryRunner.query(`
      CREATE TABLE grant_consumptions (
        organization_id text NOT NULL,
        grant_id        uuid NOT NULL,
        event_id        uuid NOT NULL,
        period_start    date NOT NULL,
        credits         numeric(18,2) NOT NULL CHECK (credits > 0),
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (organization_id, grant_id, event_id)
      )`);
    await queryRunner.query(`
      CREATE TABLE idempotency_keys (
        organization_id text NOT NULL,
        key             text NOT NULL,
        request_hash    text NOT NULL,
        event_id        uuid,
        response        jsonb,
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (organization_id, key)
      )`);
    await queryRunner.query(`
      CREATE TABLE notifications (
        organization_id text NOT NULL REFERENCES organizations (id),
        id              uuid NOT NULL,
        period_start    date NOT NULL,
        type            text NOT NULL,
        threshold       numeric(6,4),
        used            numeric(18,2),
        "limit"         numeric(18,2),
        payload         jsonb NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (organization_id, id),
        -- Once per period, threshold and allowance: after a plan change the new allowance's crossings count.
        UNIQUE (organization_id, period_start, type, threshold, "limit")
      )`);

    /*
     * The debit: the check and the write in one statement, serialized per organization and period by the
     * balance row lock. Consumes the allowance, then open top-ups (earliest expiry first), then overage
     * (only with a positive rate, and within the spend cap). Returns a status instead of raising, so a batch
     * of debits can share one transaction and a rejected one writes nothing.
     */
    await queryRunner.query(`
      CREATE FUNCTION consume_credits(
        p_org text, p_period date, p_plan text, p_allowance numeric, p_amount numeric,
        p_overage_rate numeric, p_spend_cap numeric, p_limit_key text, p_limit integer, p_now timestamptz,
        OUT status text, OUT from_allowance numeric, OUT from_grants numeric, OUT overage numeric,
        OUT grant_takes jsonb, OUT remaining numeric, OUT consumed_before numeric, OUT consumed_after numeric,
        OUT allowance numeric, OUT limit_used integer)
      LANGUAGE plpgsql AS $$
      #variable_conflict use_column
      DECLARE
        b period_balances%ROWTYPE;
        v_open numeric;
        v_grants numeric;
        v_need numeric;
        v_take numeric;
        g record;
      BEGIN
        INSERT INTO period_balances (organization_id, period_start, plan_name, allowance)
        VALUES (p_org, p_period, p_plan, p_allowance) ON CONFLICT DO NOTHING;
        SELECT * INTO b FROM period_balances WHERE organization_id = p_org AND period_start = p_period FOR UPDATE;

        allowance := b.allowance;
        consumed_before := b.consumed;
        consumed_after := b.consumed;
        from_allowance := 0; from_grants := 0; overage := 0; grant_takes := '[]'::jsonb;
        limit_used := CASE p_limit_key WHEN 'aiCallsPerMonth' THEN b.ai_calls WHEN 'pdfExportsPerMonth' THEN b.pdf_exports
                                       WHEN 'sessionLimit' THEN b.sessions ELSE 0 END;
        v_open := greatest(b.allowance - b.allowance_used, 0);
        SELECT coalesce(sum(cg.remaining), 0) INTO v_grants FROM credit_grants cg
         WHERE cg.organization_id = p_org AND cg.remaining > 0 AND (cg.expires_at IS NULL OR cg.expires_at > p_now);
        remaining := v_open + v_grants;

        IF p_limit_key IS NOT NULL AND p_limit IS NOT NULL AND limit_used + 1 > p_limit THEN
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

        IF overage > 0 AND NOT (coalesce(p_overage_rate, 0) > 0
                                AND (p_spend_cap IS NULL OR (b.overage_used + overage) * p_overage_rate <= p_spend_cap)) THEN
          status := 'CREDITS_EXHAUSTED';
          from_allowance := 0; from_grants := 0; overage := 0;
          RETURN;
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
          consumed = consumed + p_amount,
          events = events + 1,
          ai_calls = ai_calls + (p_limit_key IS NOT DISTINCT FROM 'aiCallsPerMonth')::int,
          pdf_exports = pdf_exports + (p_limit_key IS NOT DISTINCT FROM 'pdfExportsPerMonth')::int,
          sessions = sessions + (p_limit_key IS NOT DISTINCT FROM 'sessionLimit')::int,
          updated_at = p_now
        WHERE organization_id = p_org AND period_start = p_period;

        consumed_after := b.consumed + p_amount;
        remaining := remaining - from_allowance - from_grants;
        limit_used := limit_used + CASE WHEN p_limit_key IS NULL THEN 0 ELSE 1 END;
        status := 'OK';
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION consume_credits`);
    await queryRunner.query(`DROP FUNCTION ensure_usage_events_partition`);
    for (const table of ['notifications', 'idempotency_keys', 'grant_consumptions', 'usage_events', 'period_balances', 'credit_grants', 'organization_members', 'organizations']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
