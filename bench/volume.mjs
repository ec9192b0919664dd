// Benchmark 4: volume. BENCH_VOLUME_EVENTS (default 10,000,000) events over 3 months for
// BENCH_VOLUME_ORGS (default 1,000) organizations, written straight into PostgreSQL, consistently:
// usage_events, period_balances and both rollups from the same INSERT … SELECT generate_series statements.
// Then, through the running service: the rollup refresh (POST /api/admin/jobs/rollup-refresh/run per
// period), the period close (POST /api/admin/jobs/period-close/run: closes the two ended months), and the
// latency of the summary, breakdown and forecast endpoints, before the data is loaded (baseline) and after.
//
//   npm run bench:volume                                   (10 M events: about 15 to 30 minutes here)
//   BENCH_VOLUME_EVENTS=1000000 npm run bench:volume       (1 M: a few minutes)
//
// The months are the current one (up to now) and the two before it. Every organization is on the enterprise
// plan (no count limits; what exceeds the allowance is overage, split per event in time order). 15 event
// types, 10 users per organization. Not part of `npm run bench` (and CI never runs it).
// Targets: close >= 1,000,000 events/s; analytics p99 <= 50 ms whatever the volume.
import { api, load, round } from './lib/http.mjs';
import { checkLedger } from './lib/ledger.mjs';
import { fmt, printTable, verdict, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, envInt, runWhenMain, pool, sampleRss, withService } from './lib/service.mjs';

const CLOSE_TARGET = 1_000_000;
const P99_TARGET_MS = 50;
const CHUNK_EVENTS = 100_000;

const DAY_MS = 86_400_000;
const iso = (d) => d.toISOString().slice(0, 10);
const monthStart = (d, back = 0) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - back, 1));

/** The three periods: [start, end of data) each, and how many events per organization fall in each. */
function plan(now, events, orgs) {
  const periods = [2, 1, 0].map((back) => {
    const start = monthStart(now, back);
    const end = back === 0 ? new Date(now.getTime() - 60_000) : monthStart(now, back - 1);
    return { key: iso(start).slice(0, 7), start, end, days: (end - start) / DAY_MS };
  });
  const days = periods.reduce((a, p) => a + p.days, 0);
  for (const p of periods) p.perOrg = Math.max(1, Math.round((events / orgs) * (p.days / days)));
  return periods;
}

/**
 * One statement writes every event of `orgIds` in one period, with the balance rows and both rollups
 * computed from the very rows it inserted (so they agree by construction). Allowance first, then overage,
 * in time order (a running sum per organization), as consume_credits would have split them.
 */
const GENERATE_SQL = `
WITH types AS (
  SELECT row_number() OVER (ORDER BY event_type)::int AS idx, event_type, category, version,
         (config->>'baseCredits')::numeric AS base,
         -- The debit's limit_key: the countsToward names comma-joined (limitKey on definitions stored before it).
         coalesce((SELECT string_agg(n, ',') FROM jsonb_array_elements_text(config->'countsToward') AS n), config->>'limitKey') AS limit_key
    FROM event_definitions WHERE is_active),
ntypes AS (SELECT count(*)::int AS n FROM types),
orgs AS (SELECT id, substring(id from 5)::int AS num FROM organizations WHERE id = ANY($1::text[])),
gen AS (
  SELECT o.id AS org, o.num, k, $2::timestamptz + ((k - 0.5) / $4::float8) * ($3::timestamptz - $2::timestamptz) AS occurred_at
    FROM orgs o CROSS JOIN generate_series(1, $4::int) AS k),
priced AS (
  SELECT g.org, g.occurred_at, t.event_type, t.category, t.version, t.base AS credits, t.limit_key,
         'user-' || ((g.k * 13 + g.num) % 10) AS user_id,
         sum(t.base) OVER (PARTITION BY g.org ORDER BY g.k) AS running
    FROM gen g JOIN types t ON t.idx = 1 + ((g.k * 7919 + g.num * 104729) % (SELECT n FROM ntypes))),
ins AS (
  INSERT INTO usage_events (organization_id, occurred_at, id, period_start, recorded_at, event_type, category, definition_version, user_id,
                            credits, from_allowance, from_grants, overage, limit_key, breakdown, endpoint)
  SELECT org, occurred_at, gen_random_uuid(), $5::date, occurred_at, event_type, category, version, user_id,
         credits, greatest(0, least(credits, $6::numeric - (running - credits))), 0,
         credits - greatest(0, least(credits, $6::numeric - (running - credits))), limit_key,
         jsonb_build_object('baseCredits', credits, 'complexity', 1, 'complexitySource', 'derived', 'factor', 1, 'featureBonuses', '{}'::jsonb, 'total', credits, 'version', version),
         'bench'
    FROM priced
  RETURNING organization_id, occurred_at, event_type, category, user_id, credits, from_allowance, overage, limit_key),
bal AS (
  INSERT INTO period_balances (organization_id, period_start, plan_name, allowance, allowance_used, grants_used, overage_used, consumed, events, updated_at)
  SELECT organization_id, $5::date, 'enterprise', $6::numeric, sum(from_allowance), 0, sum(overage), sum(credits), count(*), max(occurred_at)
    FROM ins GROUP BY organization_id
  RETURNING organization_id),
counts AS (
  -- The count-limit counters, after their balance rows (they reference them): one row per limit name counted.
  INSERT INTO period_limit_counts (organization_id, period_start, limit_name, used, updated_at)
  SELECT i.organization_id, $5::date, n.name, count(*), max(i.occurred_at)
    FROM ins i CROSS JOIN LATERAL unnest(string_to_array(i.limit_key, ',')) AS n(name)
   WHERE i.limit_key IS NOT NULL AND EXISTS (SELECT 1 FROM bal WHERE bal.organization_id = i.organization_id)
   GROUP BY 1, 2, 3
  RETURNING 1),
daily AS (
  INSERT INTO usage_rollups_daily (organization_id, day, event_type, category, user_id, events, credits, overage)
  SELECT organization_id, (occurred_at AT TIME ZONE 'UTC')::date, event_type, category, user_id, count(*), sum(credits), sum(overage)
    FROM ins GROUP BY 1, 2, 3, 4, 5
  RETURNING 1),
monthly AS (
  INSERT INTO usage_rollups_monthly (organization_id, period_start, event_type, category, user_id, events, credits, overage)
  SELECT organization_id, $5::date, event_type, category, user_id, count(*), sum(credits), sum(overage)
    FROM ins GROUP BY organization_id, event_type, category, user_id
  RETURNING 1)
SELECT (SELECT count(*) FROM ins)::int AS events, (SELECT count(*) FROM daily)::int AS daily, (SELECT count(*) FROM monthly)::int AS monthly, (SELECT count(*) FROM bal)::int AS balances`;

async function generate(url, periods, orgIds, allowance) {
  const jobs = [];
  for (const p of periods) {
    const perChunk = Math.max(1, Math.floor(CHUNK_EVENTS / p.perOrg));
    for (let i = 0; i < orgIds.length; i += perChunk) jobs.push({ p, ids: orgIds.slice(i, i + perChunk) });
  }
  const db = pool(url, 2);
  const totals = { events: 0, daily: 0, monthly: 0, balances: 0 };
  const t0 = performance.now();
  let done = 0;
  try {
    // Two writers: one per core.
    await Promise.all(
      [0, 1].map(async () => {
        const client = await db.connect();
        try {
          await client.query(`SET work_mem = '256MB'`);
          for (let job = jobs.shift(); job; job = jobs.shift()) {
            const { rows } = await client.query(GENERATE_SQL, [job.ids, job.p.start, job.p.end, job.p.perOrg, iso(job.p.start), allowance]);
            for (const k of Object.keys(totals)) totals[k] += rows[0][k];
            done += rows[0].events;
            process.stdout.write(`\r  generated ${fmt(done)} events (${fmt(done / ((performance.now() - t0) / 1000))}/s)   `);
          }
        } finally {
          client.release();
        }
      }),
    );
    process.stdout.write('\n');
    const generateS = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    // What autovacuum would have done by the time anyone reads this much data: statistics and the visibility map.
    for (const table of ['usage_events', 'period_balances', 'usage_rollups_daily', 'usage_rollups_monthly']) await db.query(`VACUUM ANALYZE ${table}`);
    return { ...totals, generateS: round(generateS, 1), rowsPerS: round(totals.events / generateS, 0), vacuumAnalyzeS: round((performance.now() - t1) / 1000, 1) };
  } finally {
    await db.end();
  }
}

async function analytics(baseUrl, orgIds, periods, seconds, label) {
  const headers = { authorization: `Bearer ${ADMIN_KEY}` };
  const today = iso(new Date());
  const endpoints = [
    { key: 'summary', path: (o) => `/api/organizations/${o}/usage` },
    { key: 'breakdown', path: (o) => `/api/organizations/${o}/usage/breakdown?groupBy=eventType` },
    { key: 'breakdown3m', path: (o) => `/api/organizations/${o}/usage/breakdown?groupBy=day&from=${iso(periods[0].start)}&to=${today}` },
    { key: 'forecast', path: (o) => `/api/organizations/${o}/usage/forecast` },
  ];
  const out = {};
  for (const e of endpoints) {
    const pick = () => orgIds[Math.floor(Math.random() * orgIds.length)];
    const r = await load({ title: `${label} ${e.key}`, url: baseUrl, connections: 4, duration: seconds, requests: [{ method: 'GET', headers, setupRequest: (req) => ({ ...req, path: e.path(pick()) }) }] });
    out[e.key] = { path: e.path(':orgId'), rps: r.okPerS, errors: r.non2xx + r.errors, p50: r.latencyMs.p50, p90: r.latencyMs.p90, p99: r.latencyMs.p99, max: r.latencyMs.max };
  }
  return out;
}

async function runJob(baseUrl, name, params) {
  const t0 = performance.now();
  const res = await api(baseUrl, 'POST', `/api/admin/jobs/${name}/run`, params);
  return { wallS: round((performance.now() - t0) / 1000, 2), run: res.body };
}

export async function run() {
  const events = envInt('BENCH_VOLUME_EVENTS', 10_000_000);
  const orgCount = envInt('BENCH_VOLUME_ORGS', 1000);
  const loadSeconds = envInt('BENCH_VOLUME_LOAD_SECONDS', 10);
  const now = new Date();
  const periods = plan(now, events, orgCount);
  return withService(async ({ db, svc, sql }) => {
    const started = performance.now();
    const orgIds = Array.from({ length: orgCount }, (_, i) => `vol-${String(i + 1).padStart(5, '0')}`);
    const allowance = (await sql.query(`SELECT config->>'monthlyCredits' AS c FROM plan_definitions WHERE name = 'enterprise'`)).rows[0].c;
    await sql.query(
      `INSERT INTO organizations (id, name, plan_name, billing_cycle, created_at, updated_at)
       SELECT id, 'Volume ' || id, 'enterprise', 'monthly', $2, $2 FROM unnest($1::text[]) AS id`,
      [orgIds, periods[0].start],
    );
    for (const p of periods) await sql.query(`SELECT ensure_usage_events_partition($1::date)`, [iso(p.start)]);

    console.log(`\nbaseline: analytics on ${fmt(orgCount)} organizations without events (${loadSeconds} s each, 4 connections)`);
    const baseline = await analytics(svc.baseUrl, orgIds, periods, loadSeconds, 'baseline');

    console.log(`generating ${fmt(events)} events: ${periods.map((p) => `${p.key} ${fmt(p.perOrg)}/org`).join(', ')}`);
    const generated = await generate(db.url, periods, orgIds, allowance);
    const closedEvents = Number((await sql.query(`SELECT count(*) AS n FROM usage_events WHERE period_start < $1::date`, [iso(periods[2].start)])).rows[0].n);

    console.log('analytics on the loaded data');
    const loaded = await analytics(svc.baseUrl, orgIds, periods, loadSeconds, 'loaded');

    const rss = sampleRss(() => svc.pid);
    console.log('rollup refresh, one period at a time');
    const refresh = [];
    for (const p of periods) {
      const r = await runJob(svc.baseUrl, 'rollup-refresh', { period: p.key });
      const n = Number((await sql.query(`SELECT count(*) AS n FROM usage_events WHERE period_start = $1::date`, [iso(p.start)])).rows[0].n);
      refresh.push({ period: p.key, events: n, wallS: r.wallS, durationMs: r.run.durationMs ?? null, status: r.run.status, rows: r.run.rows, eventsPerS: round(n / r.wallS, 0) });
      console.log(`  ${p.key}: ${fmt(n)} events in ${r.wallS} s (${r.run.status})`);
    }
    // The refresh above rewrote every rollup row of the three months (a repair run, not the nightly one-day
    // catch-up): autovacuum starts on a table once a fifth of it changed, so by the month-end close it has
    // cleared the dead rows and set the visibility map again. Without this the close, run seconds after a
    // rewrite, is the first reader of a table of dead index entries (it measured about twice as long).
    const v0 = performance.now();
    for (const table of ['usage_rollups_daily', 'usage_rollups_monthly']) await sql.query(`VACUUM ANALYZE ${table}`);
    const rollupVacuumS = round((performance.now() - v0) / 1000, 1);
    console.log('period close');
    const close = await runJob(svc.baseUrl, 'period-close', {});
    const closes = (await sql.query(`SELECT period_start::text, status, organizations FROM period_closes ORDER BY 1`)).rows;
    const invoices = Number((await sql.query(`SELECT count(*) AS n FROM invoices`)).rows[0].n);
    const memory = rss.stop();
    const closeRate = round(closedEvents / close.wallS, 0);
    console.log('analytics after the close');
    const afterClose = await analytics(svc.baseUrl, orgIds, periods, Math.max(3, Math.round(loadSeconds / 2)), 'after close');
    const ledger = await checkLedger(sql);

    printTable(
      `Volume: ${fmt(generated.events)} events, ${fmt(orgCount)} organizations, ${periods.map((p) => p.key).join(' / ')}`,
      [{ title: 'step' }, { title: 'events' }, { title: 'seconds' }, { title: 'events/s' }, { title: 'notes' }],
      [
        ['generate (INSERT … SELECT generate_series, 2 writers)', fmt(generated.events), generated.generateS, fmt(generated.rowsPerS), `${fmt(generated.daily)} daily + ${fmt(generated.monthly)} monthly rollup rows, ${fmt(generated.balances)} balances`],
        ['VACUUM ANALYZE', '-', generated.vacuumAnalyzeS, '-', 'what autovacuum would have done'],
        ...refresh.map((r) => [`rollup refresh ${r.period}`, fmt(r.events), r.wallS, fmt(r.eventsPerS), `${r.status}, ${fmt(r.rows)} rows`]),
        ['VACUUM ANALYZE of the rollups', '-', rollupVacuumS, '-', 'what autovacuum does after the refresh rewrote them'],
        ['period close (2 ended months)', fmt(closedEvents), close.wallS, fmt(closeRate), `${close.run.status}; ${fmt(invoices)} invoices; ${closes.map((c) => `${c.period_start.slice(0, 7)} ${c.status}`).join(', ')}`],
      ],
    );
    const rows = [];
    for (const key of Object.keys(baseline)) {
      rows.push([`${key} (${baseline[key].path})`, baseline[key].p50, baseline[key].p99, loaded[key].p50, loaded[key].p99, afterClose[key].p99, round(loaded[key].p99 / Math.max(1, baseline[key].p99), 2), fmt(loaded[key].rps), loaded[key].errors + afterClose[key].errors]);
    }
    printTable(
      'Analytics latency (ms), 4 connections, random organization per request',
      [{ title: 'endpoint' }, { title: 'empty p50' }, { title: 'empty p99' }, { title: 'loaded p50' }, { title: 'loaded p99' }, { title: 'after close p99' }, { title: 'p99 ratio' }, { title: 'req/s' }, { title: 'errors' }],
      rows,
    );
    const worstP99 = Math.max(...Object.values(loaded).map((r) => r.p99), ...Object.values(afterClose).map((r) => r.p99));
    const closeOk = close.run.status === 'succeeded' && closes.filter((c) => c.status === 'closed').length === 2;
    printTable('Checks and targets', [{ title: 'what' }, { title: 'measured' }, { title: 'target' }, { title: 'verdict' }], [
      ['period close events/s', fmt(closeRate), `>= ${fmt(CLOSE_TARGET)}`, verdict(closeRate >= CLOSE_TARGET)],
      ['worst analytics p99 on the loaded data (ms)', worstP99, `<= ${P99_TARGET_MS}`, verdict(worstP99 <= P99_TARGET_MS)],
      ['period close succeeded, 2 periods closed', `${close.run.status}, ${closes.map((c) => c.status).join('/')}`, 'succeeded, closed/closed', closeOk ? 'ok' : 'FAILED'],
      ...ledger.checks.map((c) => [c.name, c.ok ? 'holds' : JSON.stringify(c.rows.slice(0, 2)), 'holds', c.ok ? 'ok' : 'VIOLATION']),
      ['service RSS peak during jobs (MB)', memory.peakMb, '<= 250', verdict(memory.peakMb <= 250)],
    ]);
    const totalS = round((performance.now() - started) / 1000, 0);
    console.log(`\n  total ${totalS} s`);
    const summary = { events: generated.events, closeEventsPerS: closeRate, closeS: close.wallS, refreshEventsPerS: refresh.map((r) => r.eventsPerS), worstP99Ms: worstP99, ledgerOk: ledger.ok && closeOk, targets: { close: closeRate >= CLOSE_TARGET, analyticsP99: worstP99 <= P99_TARGET_MS } };
    writeResults('volume', { rollupVacuumS, config: { events, orgs: orgCount, loadSeconds, periods: periods.map((p) => ({ key: p.key, start: p.start, end: p.end, perOrg: p.perOrg })), plan: 'enterprise' }, generated, baseline, loaded, refresh, close, closes, afterClose, memory, ledger: ledger.checks, totalS, summary });
    return summary;
  });
}

runWhenMain(import.meta.url, run, (s) => s.ledgerOk);
