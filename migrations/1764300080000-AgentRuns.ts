import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Agent runs with nested budgets (docs/agent-runs.md). A run is a node of a tree inside one organization;
 * a call carrying its id is charged to it and counts against it and every ancestor.
 *
 *  - `runs`: `path` is the run's ancestry, root first and the run itself last (fixed at creation, so a
 *    debit and its refund walk the same rows). `used` is what was debited to the run and its descendants,
 *    holds included (a hold is a debit until it is settled or released), in micro-credits like the ledger.
 *    It is written only by the debit (consume_credits_many) and the refund (refund_credits), both under the
 *    run rows' locks taken in id order after the balance rows: no interleaving of requests or instances
 *    takes a run past its budget or any ancestor's.
 *  - The run travels as the debit item's field `run_id` (consume_credits_many, consume_credits_orgs and
 *    reserve_credits_many pass it through), and is recorded on the hold (`reservations.run_id`, so that its
 *    refund gives it back to the same runs) and on the event (`usage_events.run_id`, the run's itemised spend).
 *  - An item naming a run that is not the organization's is RUN_NOT_FOUND; one whose run or an ancestor is
 *    closed or past its expiry is RUN_CLOSED; one that would take the run or an ancestor past its budget is
 *    RUN_BUDGET_EXCEEDED (`budget` says which run and the path). Each writes nothing.
 *
 * consume_credits_many and reserve_credits_many are edited in their live bodies (each edit must match the
 * expected number of times, else the migration fails rather than leave a half-edited function);
 * refund_credits gains a parameter, so it is dropped and created whole.
 * Lock order, everywhere: organization row (only to create a balance row), balance rows in period order,
 * budget windows, runs in id order, then top-up grants. Run rows are locked FOR NO KEY UPDATE (what the
 * UPDATE of `used` takes anyway): a child run's insert (its foreign key takes KEY SHARE on the parent) does
 * not wait for the debits of the parent.
 */
const RUN_DECLARATIONS = `
      -- Runs: every run on the path of a run the batch names, locked, its budget and use as the pass goes.
      r_n integer := 0;
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
      v_rclosed integer;`;

const RUN_LOCKS = `
      -- 2c. Runs the batch names, with every ancestor, locked in id order (after the budget windows, before
      --     the top-ups; refund_credits takes them in the same place of the same order).
      IF EXISTS (SELECT 1 FROM jsonb_to_recordset(p_items) AS y(run_id uuid) WHERE y.run_id IS NOT NULL) THEN
        SELECT coalesce(jsonb_object_agg(ru.id::text, to_jsonb(ru.path)), '{}') INTO r_paths
          FROM runs ru
         WHERE ru.organization_id = p_org
           AND ru.id IN (SELECT DISTINCT y.run_id FROM jsonb_to_recordset(p_items) AS y(run_id uuid) WHERE y.run_id IS NOT NULL);
        FOR rr IN
          SELECT ru.id, ru.budget, ru.used, (ru.status = 'open' AND (ru.expires_at IS NULL OR ru.expires_at > p_now)) AS open
            FROM runs ru
           WHERE ru.organization_id = p_org
             AND ru.id IN (SELECT DISTINCT (jsonb_array_elements_text(pp.value))::uuid FROM jsonb_each(r_paths) AS pp)
           ORDER BY ru.id
             FOR NO KEY UPDATE
        LOOP
          r_n := r_n + 1;
          r_ids[r_n] := rr.id; r_budget[r_n] := rr.budget; r_used[r_n] := rr.used; r_orig[r_n] := rr.used; r_open[r_n] := rr.open;
        END LOOP;
      END IF;

      SELECT o.spend_cap INTO v_cap FROM organizations o WHERE o.id = p_org;`;

const RUN_CHECK = `
        -- A run (or an ancestor) that is closed, or whose budget the event would pass, refuses it whole: a
        -- child's budget never lets it spend past a parent's. Checked root first.
        IF it.run_id IS NOT NULL THEN
          IF NOT (r_paths ? it.run_id::text) THEN
            status := 'RUN_NOT_FOUND';
            budget := jsonb_build_object('runId', it.run_id);
            RETURN NEXT;
            CONTINUE;
          END IF;
          v_rpath := ARRAY(SELECT (jsonb_array_elements_text(r_paths->(it.run_id::text)))::uuid);
          v_rfail := NULL; v_rclosed := NULL;
          FOREACH v_rid IN ARRAY v_rpath LOOP
            j := array_position(r_ids, v_rid);
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

        from_allowance := least(it.amount, v_open);`;

const RUN_TAKE = `
        IF it.run_id IS NOT NULL THEN
          FOREACH v_rid IN ARRAY v_rpath LOOP
            j := array_position(r_ids, v_rid);
            r_used[j] := r_used[j] + it.amount;
          END LOOP;
        END IF;
        status := 'OK';`;

const RUN_WRITE = `
      IF r_n > 0 THEN
        UPDATE runs ru SET used = x.used
          FROM unnest(r_ids, r_used, r_orig) AS x(id, used, original)
         WHERE ru.organization_id = p_org AND ru.id = x.id AND x.used <> x.original;
      END IF;
      IF g_loaded THEN`;

type Edit = [from: string, to: string, times: number];

function edit(name: string, def: string, edits: Edit[]): string {
  let body = def;
  for (const [from, to, times] of edits) {
    const found = body.split(from).length - 1;
    if (found !== times) throw new Error(`AgentRuns: expected ${times} of "${from}" in ${name}, found ${found}`);
    body = body.split(from).join(to);
  }
  return body;
}

export class AgentRuns1764300080000 implements MigrationInterface {
  name = 'AgentRuns1764300080000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE runs (
        organization_id text NOT NULL REFERENCES organizations (id),
        id              uuid NOT NULL,
        parent_id       uuid,
        path            uuid[] NOT NULL,
        label           text CHECK (length(label) BETWEEN 1 AND 200),
        budget          numeric(22,6) CHECK (budget >= 0),
        used            numeric(22,6) NOT NULL DEFAULT 0 CHECK (used >= 0),
        status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
        expires_at      timestamptz,
        created_at      timestamptz NOT NULL,
        closed_at       timestamptz,
        -- A retried create (same Idempotency-Key) finds the run it made instead of making a second one.
        idempotency_key text,
        request_hash    text,
        PRIMARY KEY (organization_id, id),
        UNIQUE (organization_id, idempotency_key),
        FOREIGN KEY (organization_id, parent_id) REFERENCES runs (organization_id, id),
        CHECK (path[array_length(path, 1)] = id)
      )`);
    await queryRunner.query(`CREATE INDEX runs_by_parent ON runs (organization_id, parent_id) WHERE parent_id IS NOT NULL`);
    await queryRunner.query(`ALTER TABLE reservations ADD COLUMN run_id uuid`);
    await queryRunner.query(`CREATE INDEX reservations_pending_by_run ON reservations (organization_id, run_id) WHERE run_id IS NOT NULL AND status = 'pending'`);
    await queryRunner.query(`ALTER TABLE usage_events ADD COLUMN run_id uuid`);
    await queryRunner.query(`CREATE INDEX usage_events_by_run ON usage_events (organization_id, run_id) WHERE run_id IS NOT NULL`);

    const [{ def: consume }] = (await queryRunner.query(`SELECT pg_get_functiondef('consume_credits_many(text,timestamptz,integer,jsonb)'::regprocedure) AS def`)) as Array<{ def: string }>;
    await queryRunner.query(
      edit('consume_credits_many', consume, [
        ['      v_fail integer;\n', `      v_fail integer;${RUN_DECLARATIONS}\n`, 1],
        ['\n      SELECT o.spend_cap INTO v_cap FROM organizations o WHERE o.id = p_org;', RUN_LOCKS, 1],
        ['AS x(i integer, period date, amount numeric, limit_key text, api_key_id text, user_id text, day date) ORDER BY x.i LOOP', 'AS x(i integer, period date, amount numeric, limit_key text, api_key_id text, user_id text, day date, run_id uuid) ORDER BY x.i LOOP', 1],
        ['\n        from_allowance := least(it.amount, v_open);', RUN_CHECK, 1],
        ["\n        status := 'OK';", RUN_TAKE, 1],
        ['\n      IF g_loaded THEN\n        UPDATE credit_grants', `${RUN_WRITE}\n        UPDATE credit_grants`, 1],
      ]),
    );

    const [{ def: reserve }] = (await queryRunner.query(`SELECT pg_get_functiondef('reserve_credits_many(timestamptz,integer,jsonb)'::regprocedure) AS def`)) as Array<{ def: string }>;
    await queryRunner.query(
      edit('reserve_credits_many', reserve, [
        ["'api_key_id', x.api_key_id, 'user_id', x.user_id, 'day', x.day) ORDER BY x.i), '[]')", "'api_key_id', x.api_key_id, 'user_id', x.user_id, 'day', x.day, 'run_id', x.run_id) ORDER BY x.i), '[]')", 1],
        ['limit_key text, api_key_id text, user_id text, day date)\n', 'limit_key text, api_key_id text, user_id text, day date, run_id uuid)\n', 1],
        ['                                  api_key_id, budget_takes)', '                                  api_key_id, budget_takes, run_id)', 1],
        ['               x.api_key_id, r.budget_takes\n', '               x.api_key_id, r.budget_takes, x.run_id\n', 1],
        ['                                                api_key_id text) ON x.i = r.i', '                                                api_key_id text, run_id uuid) ON x.i = r.i', 1],
      ]),
    );

    await queryRunner.query(`DROP FUNCTION refund_credits(text, date, numeric, numeric, numeric, numeric, jsonb, text, timestamptz, jsonb)`);
    await queryRunner.query(`
      CREATE FUNCTION refund_credits(
        p_org text, p_period date, p_from_allowance numeric, p_from_grants numeric, p_overage numeric, p_overage_cost numeric,
        p_grant_takes jsonb, p_limit_key text, p_now timestamptz, p_budget_takes jsonb DEFAULT '[]', p_run_id uuid DEFAULT NULL) RETURNS void
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
      END $$`);
  }

  async down(): Promise<void> {
    throw new Error('AgentRuns1764300080000 is not reversible: restore from a backup');
  }
}
