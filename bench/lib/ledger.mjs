// SPEC section 4's invariants, checked in SQL over a whole bench database after a run. Each check returns
// the offending rows (an empty list is a pass); amounts are compared as numeric in SQL, never as floats.

const CHECKS = [
  {
    name: 'balance = ledger (events + pending reservations), per organization and period',
    sql: `
      WITH ev AS (
        SELECT organization_id, period_start, count(*) AS n, sum(credits) AS c, sum(from_allowance) AS fa, sum(from_grants) AS fg, sum(overage) AS ov
          FROM usage_events GROUP BY 1, 2),
      held AS (
        SELECT organization_id, period_start, count(*) AS n, sum(credits) AS c, sum(from_allowance) AS fa, sum(from_grants) AS fg, sum(overage) AS ov
          FROM reservations WHERE status = 'pending' GROUP BY 1, 2)
      SELECT b.organization_id, b.period_start::text, b.consumed::text, (coalesce(ev.c, 0) + coalesce(held.c, 0))::text AS ledger,
             b.events, coalesce(ev.n, 0) + coalesce(held.n, 0) AS ledger_events
        FROM period_balances b
        LEFT JOIN ev ON ev.organization_id = b.organization_id AND ev.period_start = b.period_start
        LEFT JOIN held ON held.organization_id = b.organization_id AND held.period_start = b.period_start
       WHERE b.consumed <> coalesce(ev.c, 0) + coalesce(held.c, 0)
          OR b.allowance_used <> coalesce(ev.fa, 0) + coalesce(held.fa, 0)
          OR b.grants_used <> coalesce(ev.fg, 0) + coalesce(held.fg, 0)
          OR b.overage_used <> coalesce(ev.ov, 0) + coalesce(held.ov, 0)
          OR b.events <> coalesce(ev.n, 0) + coalesce(held.n, 0)
       LIMIT 20`,
  },
  {
    name: 'no ledger row without its balance row',
    sql: `SELECT e.organization_id, e.period_start::text, count(*) AS n FROM usage_events e
           WHERE NOT EXISTS (SELECT 1 FROM period_balances b WHERE b.organization_id = e.organization_id AND b.period_start = e.period_start)
           GROUP BY 1, 2 LIMIT 20`,
  },
  {
    name: 'no overspend: allowance, overage only on a positive rate within the spend cap, count limits',
    sql: `
      SELECT b.organization_id, b.period_start::text, b.allowance::text, b.allowance_used::text, b.overage_used::text,
             p.config->>'overageRate' AS rate, o.spend_cap::text
        FROM period_balances b
        JOIN organizations o ON o.id = b.organization_id
        JOIN plan_definitions p ON p.name = b.plan_name
       WHERE b.allowance_used > b.allowance
          OR (b.overage_used > 0 AND coalesce((p.config->>'overageRate')::numeric, 0) <= 0)
          OR (o.spend_cap IS NOT NULL AND b.overage_used * coalesce((p.config->>'overageRate')::numeric, 0) > o.spend_cap)
       LIMIT 20`,
  },
  {
    name: 'count limits: no counter past its plan limit',
    sql: `
      SELECT c.organization_id, c.period_start::text, c.limit_name, c.used, p.config->'limits'->>c.limit_name AS max
        FROM period_limit_counts c
        JOIN period_balances b ON b.organization_id = c.organization_id AND b.period_start = c.period_start
        JOIN plan_definitions p ON p.name = b.plan_name
       WHERE jsonb_typeof(p.config->'limits'->c.limit_name) = 'number' AND c.used > (p.config->'limits'->>c.limit_name)::bigint
       LIMIT 20`,
  },
  {
    name: 'count limits: every counter = events + pending holds counting toward it, per organization, period and limit',
    sql: `
      WITH counted AS (
        SELECT organization_id, period_start, name, count(*) AS n
          FROM (SELECT organization_id, period_start, limit_key FROM usage_events WHERE limit_key IS NOT NULL
                UNION ALL
                SELECT organization_id, period_start, limit_key FROM reservations WHERE status = 'pending' AND limit_key IS NOT NULL) AS x
          CROSS JOIN LATERAL unnest(string_to_array(x.limit_key, ',')) AS name
         GROUP BY 1, 2, 3)
      SELECT coalesce(c.organization_id, counted.organization_id) AS organization_id, coalesce(c.period_start, counted.period_start)::text AS period_start,
             coalesce(c.limit_name, counted.name) AS limit_name, coalesce(c.used, 0) AS used, coalesce(counted.n, 0) AS ledger
        FROM period_limit_counts c
        FULL JOIN counted ON counted.organization_id = c.organization_id AND counted.period_start = c.period_start AND counted.name = c.limit_name
       WHERE coalesce(c.used, 0) <> coalesce(counted.n, 0)
       LIMIT 20`,
  },
  {
    name: "grants: amount - remaining = consumptions + pending reservations' takes",
    sql: `
      SELECT g.organization_id, g.id, (g.amount - g.remaining)::text AS used FROM credit_grants g
       WHERE g.amount - g.remaining <>
             coalesce((SELECT sum(c.credits) FROM grant_consumptions c WHERE c.organization_id = g.organization_id AND c.grant_id = g.id), 0)
           + coalesce((SELECT sum((t->>'credits')::numeric) FROM reservations r, jsonb_array_elements(r.grant_takes) t
                        WHERE r.organization_id = g.organization_id AND r.status = 'pending' AND (t->>'grantId')::uuid = g.id), 0)
       LIMIT 20`,
  },
  {
    name: 'each idempotency key charged at most once (ledger rows per key <= 1)',
    sql: `SELECT organization_id, idempotency_key, count(*) AS n FROM usage_events WHERE idempotency_key IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 20`,
  },
  {
    name: 'monthly rollups = ledger (events, credits) per organization and period',
    sql: `
      WITH ev AS (SELECT organization_id, period_start, count(*) AS n, sum(credits) AS c FROM usage_events GROUP BY 1, 2),
           ru AS (SELECT organization_id, period_start, sum(events) AS n, sum(credits) AS c FROM usage_rollups_monthly GROUP BY 1, 2)
      SELECT coalesce(ev.organization_id, ru.organization_id) AS organization_id, coalesce(ev.period_start, ru.period_start)::text AS period_start,
             ev.n AS events, ru.n AS rollup_events, ev.c::text AS credits, ru.c::text AS rollup_credits
        FROM ev FULL JOIN ru ON ru.organization_id = ev.organization_id AND ru.period_start = ev.period_start
       WHERE ev.n IS DISTINCT FROM ru.n OR ev.c IS DISTINCT FROM ru.c
       LIMIT 20`,
  },
];

/** Runs every check; `{ok, checks: [{name, ok, rows}]}`. `skip` names checks to leave out (by prefix). */
export async function checkLedger(db, { skip = [] } = {}) {
  // Embedded runs (db null): PGlite is inside the service process, nothing here can query it.
  if (!db) return { ok: true, skipped: true, checks: [] };
  const checks = [];
  for (const check of CHECKS) {
    if (skip.some((s) => check.name.startsWith(s))) continue;
    const { rows } = await db.query(check.sql);
    checks.push({ name: check.name, ok: rows.length === 0, rows });
  }
  return { ok: checks.every((c) => c.ok), checks };
}

/** Totals of the ledger, for the reports. */
export async function ledgerTotals(db) {
  if (!db) return { events: null, credits: null, consumed: null, pendingReservations: 0, skipped: true };
  const { rows } = await db.query(`
    SELECT (SELECT count(*) FROM usage_events)::bigint AS events,
           (SELECT coalesce(sum(credits), 0) FROM usage_events)::text AS credits,
           (SELECT coalesce(sum(consumed), 0) FROM period_balances)::text AS consumed,
           (SELECT count(*) FROM reservations WHERE status = 'pending')::int AS pending_reservations`);
  return { events: Number(rows[0].events), credits: rows[0].credits, consumed: rows[0].consumed, pendingReservations: rows[0].pending_reservations };
}

/** A function listing the PostgreSQL backends serving this database (the services' pools), for cpuMeter. */
export function backendPids(db) {
  // Embedded: no PostgreSQL backends; the database's CPU is the service process's own.
  if (!db) return async () => [];
  return async () => {
    const { rows } = await db.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
    return rows.map((r) => r.pid);
  };
}

/**
 * Events waiting in the PostgreSQL ingest queue, from the totals its trigger keeps (a count of the queue
 * would scan it: polled every 100 ms during a drain, that scan took CPU from the drain being measured).
 */
export async function queueWaiting(db) {
  return (await db.query(`SELECT coalesce(sum(messages), 0)::int AS n FROM ingest_queue_totals`)).rows[0].n;
}

/**
 * The age of the oldest waiting event (ms) and how many wait, read as the service's lag reads them: the
 * oldest of the first 1,000 events by seq (the primary key), the count from the totals. No scan of the queue.
 */
export async function queueLag(db) {
  const { rows } = await db.query(
    `SELECT coalesce(extract(epoch FROM clock_timestamp() - (SELECT min(f.enqueued_at) FROM (SELECT enqueued_at FROM ingest_queue ORDER BY seq LIMIT 1000) AS f)) * 1000, 0)::float8 AS ms,
            (SELECT coalesce(sum(messages), 0) FROM ingest_queue_totals)::int AS n`,
  );
  return rows[0];
}
