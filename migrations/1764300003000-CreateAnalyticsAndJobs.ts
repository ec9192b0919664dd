import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Analytics rollups, period close (frozen invoices and monthly reports), job runs and reconciliation alerts
 * (SPEC sections 7 and 8), and the PERIOD_CLOSED check inside `consume_credits`.
 *
 * Rollups are kept current in the tracker's transaction (same rows as usage_events, same commit), so
 * analytics read them instead of raw events. `user_id` is '' for "no user": a primary key column cannot be
 * NULL. Every tenant table leads its keys with organization_id (Citus-ready); period_closes and job tables
 * are global.
 */
export class CreateAnalyticsAndJobs1764300003000 implements MigrationInterface {
  name = 'CreateAnalyticsAndJobs1764300003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE usage_rollups_daily (
        organization_id text NOT NULL,
        day             date NOT NULL,
        event_type      text NOT NULL,
        category        text NOT NULL,
        user_id         text NOT NULL DEFAULT '',
        events          bigint NOT NULL CHECK (events >= 0),
        credits         numeric(18,2) NOT NULL CHECK (credits >= 0),
        overage         numeric(18,2) NOT NULL CHECK (overage >= 0),
        PRIMARY KEY (organization_id, day, event_type, category, user_id)
      )`);
    await queryRunner.query(`
      CREATE TABLE usage_rollups_monthly (
        organization_id text NOT NULL,
        period_start    date NOT NULL,
        event_type      text NOT NULL,
        category        text NOT NULL,
        user_id         text NOT NULL DEFAULT '',
        events          bigint NOT NULL CHECK (events >= 0),
        credits         numeric(18,2) NOT NULL CHECK (credits >= 0),
        overage         numeric(18,2) NOT NULL CHECK (overage >= 0),
        PRIMARY KEY (organization_id, period_start, event_type, category, user_id)
      )`);

    // One row per period once its close has started: from then on consume_credits refuses the period.
    await queryRunner.query(`
      CREATE TABLE period_closes (
        period_start  date PRIMARY KEY,
        status        text NOT NULL CHECK (status IN ('closing', 'closed')),
        started_at    timestamptz NOT NULL,
        completed_at  timestamptz,
        organizations integer
      )`);
    await queryRunner.query(`
      CREATE TABLE invoices (
        organization_id  text NOT NULL REFERENCES organizations (id),
        period_start     date NOT NULL,
        plan_name        text NOT NULL,
        billing_cycle    text NOT NULL,
        plan_price       numeric(12,2) NOT NULL,
        included_credits numeric(18,2) NOT NULL,
        used_credits     numeric(18,2) NOT NULL,
        overage_credits  numeric(18,2) NOT NULL,
        overage_cost     numeric(12,2) NOT NULL,
        top_up_credits   numeric(18,2) NOT NULL,
        total            numeric(12,2) NOT NULL,
        lines            jsonb NOT NULL,
        created_at       timestamptz NOT NULL,
        PRIMARY KEY (organization_id, period_start)
      )`);
    await queryRunner.query(`
      CREATE TABLE monthly_reports (
        organization_id text NOT NULL REFERENCES organizations (id),
        period_start    date NOT NULL,
        report          jsonb NOT NULL,
        csv             text NOT NULL,
        created_at      timestamptz NOT NULL,
        PRIMARY KEY (organization_id, period_start)
      )`);

    await queryRunner.query(`
      CREATE TABLE job_runs (
        id           uuid PRIMARY KEY,
        job_name     text NOT NULL,
        trigger      text NOT NULL CHECK (trigger IN ('schedule', 'startup', 'manual')),
        instance_id  text NOT NULL,
        status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned')),
        started_at   timestamptz NOT NULL,
        finished_at  timestamptz,
        duration_ms  integer,
        rows         integer,
        params       jsonb,
        details      jsonb,
        error        text
      )`);
    await queryRunner.query(`CREATE INDEX job_runs_recent_idx ON job_runs (job_name, started_at DESC)`);
    // Where a job that works through time (days, periods) got to: its catch-up starts after it.
    await queryRunner.query(`
      CREATE TABLE job_state (
        job_name   text PRIMARY KEY,
        watermark  text NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE reconciliation_alerts (
        organization_id text NOT NULL,
        id              uuid NOT NULL,
        fingerprint     text NOT NULL,
        kind            text NOT NULL,
        period_start    date,
        details         jsonb NOT NULL,
        status          text NOT NULL CHECK (status IN ('open', 'resolved')),
        resolution      text,
        run_id          uuid,
        first_seen_at   timestamptz NOT NULL,
        last_seen_at    timestamptz NOT NULL,
        resolved_at     timestamptz,
        PRIMARY KEY (organization_id, id)
      )`);
    // A discrepancy seen again updates its open alert instead of raising another: a rerun adds nothing.
    await queryRunner.query(`CREATE UNIQUE INDEX reconciliation_alerts_open_idx ON reconciliation_alerts (organization_id, fingerprint) WHERE status = 'open'`);
    await queryRunner.query(`CREATE INDEX reconciliation_alerts_recent_idx ON reconciliation_alerts (last_seen_at DESC)`);

    await queryRunner.query(consumeCreditsSql(true));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(consumeCreditsSql(false));
    for (const table of ['reconciliation_alerts', 'job_state', 'job_runs', 'monthly_reports', 'invoices', 'period_closes', 'usage_rollups_monthly', 'usage_rollups_daily']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}

/**
 * A closed period takes no event (SPEC section 5: 422 PERIOD_CLOSED), and nothing is written for it.
 * Checked before the balance row is created (so a refused event leaves no row behind) and again once the
 * row is locked: the close job marks the period first, then takes this same lock per organization before it
 * freezes the totals, so an event either committed before the freeze (and is counted) or sees the close.
 */
const PERIOD_CLOSED_CHECK = `
        IF EXISTS (SELECT 1 FROM period_closes pc WHERE pc.period_start = p_period) THEN
          status := 'PERIOD_CLOSED';
          from_allowance := 0; from_grants := 0; overage := 0; grant_takes := '[]'::jsonb;
          remaining := 0; consumed_before := 0; consumed_after := 0; allowance := 0; limit_used := 0;
          RETURN;
        END IF;`;

/** consume_credits of 1764300001000-CreateLedger, same signature and body, with or without the check. */
function consumeCreditsSql(withPeriodCheck: boolean): string {
  const check = withPeriodCheck ? PERIOD_CLOSED_CHECK : '';
  return `
      CREATE OR REPLACE FUNCTION consume_credits(
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
      BEGIN${check}
        INSERT INTO period_balances (organization_id, period_start, plan_name, allowance)
        VALUES (p_org, p_period, p_plan, p_allowance) ON CONFLICT DO NOTHING;
        SELECT * INTO b FROM period_balances WHERE organization_id = p_org AND period_start = p_period FOR UPDATE;${check}

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
      END $$`;
}
