// Benchmark 3: batch ingestion, POST …/usage/events with {events: [1,000 events]}, over several connections.
//
//   node bench/batch-ingest.mjs        (or: npm run bench -- batch)
//
// BENCH_BATCH_CONNECTIONS=8 connections sending batch after batch for BENCH_DURATION=10 s (the batches then
// in flight finish and count; events/s runs to the last answer), organizations taken round robin from 16
// (enterprise: nothing refused), a realistic mix of five event types. Baseline in the same run: raw
// `INSERT … SELECT FROM unnest` of 1,000 ledger-like rows a statement into a scratch table (STACK.md's
// ~195,000 rows/s anchor). Every event counted as accepted must be a ledger row, and the ledger must hold.
// Reference: the bare Fastify JSON POST route (bench/lib/bare-server.mjs) under autocannon with
// BENCH_CONNECTIONS=50 connections; the lean-hot-path targets are events/s >= 1.5x its requests/s, p99 a batch
// <= 300 ms, and <= 0.015 ms of PostgreSQL CPU per batched event.
// Target: >= 100,000 events/s.
import { measureBareRoute } from './lib/bare-route.mjs';
import { createOrganizations, percentiles, round } from './lib/http.mjs';
import { backendPids, checkLedger, ledgerTotals } from './lib/ledger.mjs';
import { unnestInserts } from './lib/pg-baselines.mjs';
import { fmt, printTable, verdict, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, cpuMeter, EMBEDDED, envInt, runWhenMain, sampleRss, withService } from './lib/service.mjs';

const TARGET = 100_000;
const BATCH = 1000;
/** The lean-hot-path targets: events/s over the bare route's requests/s, p99 a batch, PostgreSQL CPU a batched event. */
const VS_BARE = 1.5;
const P99_MS = 300;
const PG_CPU_MS = 0.015;

const MIX = [
  { eventType: 'visuals_planning', eventData: { complexity: 1.5 } },
  { eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true } },
  { eventType: 'push_structuring_to_visuals' },
  { eventType: 'solutioning_formatting', eventData: { inputText: 'x'.repeat(800) } },
  { eventType: 'export_pdf' },
];

export async function run() {
  const duration = envInt('BENCH_DURATION', 10);
  const connections = envInt('BENCH_BATCH_CONNECTIONS', 8);
  return withService(async ({ db, svc, sql }) => {
    const orgs = await createOrganizations(svc.baseUrl, Array.from({ length: 16 }, (_, i) => `batch-${String(i).padStart(2, '0')}`));
    const body = JSON.stringify({ events: Array.from({ length: BATCH }, (_, k) => ({ ...MIX[k % MIX.length], userId: `user-${k % 10}` })) });

    const raw = EMBEDDED ? { what: 'raw unnest INSERT (not run: embedded database)', perS: null } : await unnestInserts(db.url, { clients: 4, seconds: Math.min(5, duration), rows: BATCH });
    const bare = await measureBareRoute({ connections: envInt('BENCH_CONNECTIONS', 50), duration: Math.min(5, duration) });

    await drive(svc.baseUrl, orgs, body, { connections: 2, seconds: 2 }); // warm-up
    const before = await ledgerTotals(sql);
    const rss = sampleRss(() => svc.pid);
    const cpu = cpuMeter([svc.pid], backendPids(sql));
    const r = await drive(svc.baseUrl, orgs, body, { connections, seconds: duration });
    r.cpu = await cpu.end();
    const memory = rss.stop();
    const after = await ledgerTotals(sql);
    const rows = after.events - before.events;
    const counted = r.accepted;
    const eventsPerS = round(counted / r.elapsedS, 0);
    const ledger = await checkLedger(sql);
    const countOk = ledger.skipped || rows === counted;
    // Embedded: no ledger rows to count from outside; the per-event CPU is over the events answered accepted.
    const perEvent = ledger.skipped ? counted : rows;
    const vsBare = round(eventsPerS / bare.perS, 3);
    const p99Ok = r.latencyMs.p99 !== null && r.latencyMs.p99 <= P99_MS;
    // CPU per ledger row written (target: PostgreSQL <= 0.015 ms a batched event).
    const svcCpuPerEvent = round((r.cpu.serviceCores * r.cpu.seconds * 1000) / Math.max(1, perEvent), 4);
    const pgCpuPerEvent = round((r.cpu.postgresCores * r.cpu.seconds * 1000) / Math.max(1, perEvent), 4);
    const ledgerOk = ledger.ok && countOk;

    printTable(
      `Batch ingestion: ${fmt(BATCH)} events a request, ${connections} connections, ${duration} s`,
      [{ title: 'run' }, { title: 'events/s' }, { title: 'batches/s' }, { title: 'errors' }, { title: 'batch p50 ms' }, { title: 'batch p99 ms' }, { title: 'vs raw' }, { title: 'vs bare req/s' }, { title: 'CPU ms/event svc/pg' }, { title: 'cores svc/pg/other' }, { title: 'RSS peak MB' }],
      [
        [raw.what, fmt(raw.perS), '-', '-', '-', '-', raw.perS ? '1.000' : '-', raw.perS ? round(raw.perS / bare.perS, 3).toFixed(3) : '-', '-', '-', '-'],
        [bare.what + ' (req/s)', fmt(bare.perS), '-', fmt(bare.result.non2xx + bare.result.errors), '-', '-', raw.perS ? round(bare.perS / raw.perS, 3).toFixed(3) : '-', '1.000', '-', `${bare.result.cpu.serviceCores}/-/${bare.result.cpu.otherCores}`, '-'],
        ['service: POST …/usage/events {events: [1000]}', fmt(eventsPerS), round(r.batches / r.elapsedS, 2), fmt(r.failed + r.rejectedEvents), r.latencyMs.p50, r.latencyMs.p99, raw.perS ? round(eventsPerS / raw.perS, 3).toFixed(3) : '-', vsBare.toFixed(3), `${svcCpuPerEvent}/${pgCpuPerEvent}`, `${r.cpu.serviceCores}/${r.cpu.postgresCores}/${r.cpu.otherCores}`, memory.peakMb],
      ],
    );
    printTable('Checks and targets', [{ title: 'what' }, { title: 'measured' }, { title: 'target' }, { title: 'verdict' }], [
      ['events/s', fmt(eventsPerS), `>= ${fmt(TARGET)}`, verdict(eventsPerS >= TARGET)],
      ['events/s over the bare route\'s req/s', vsBare, `>= ${VS_BARE}`, verdict(vsBare >= VS_BARE)],
      [`batch p99 ms (${connections} connections)`, r.latencyMs.p99, `<= ${P99_MS}`, verdict(p99Ok)],
      ['PostgreSQL CPU ms per batched event', pgCpuPerEvent, `<= ${PG_CPU_MS}`, verdict(pgCpuPerEvent !== null && pgCpuPerEvent <= PG_CPU_MS && !ledger.skipped)],
      ['service CPU ms per batched event', svcCpuPerEvent, '(information)', ''],
      ledger.skipped
        ? ['ledger checks and row counts', 'not run (embedded database)', '', '']
        : ['events accepted (per-event results) / ledger rows written', `${fmt(counted)} / ${fmt(rows)}`, 'equal', countOk ? 'ok' : 'VIOLATION'],
      ...ledger.checks.map((c) => [c.name, c.ok ? 'holds' : JSON.stringify(c.rows.slice(0, 2)), 'holds', c.ok ? 'ok' : 'VIOLATION']),
      ['service RSS peak (MB)', memory.peakMb, '<= 300', verdict(memory.peakMb <= 300)],
    ]);
    const summary = {
      eventsPerS,
      rawRowsPerS: raw.perS,
      ratioVsRaw: raw.perS ? round(eventsPerS / raw.perS, 3) : null,
      bareRps: bare.perS,
      ratioVsBare: vsBare,
      batchP99Ms: r.latencyMs.p99,
      batchP50Ms: r.latencyMs.p50,
      serviceCpuMsPerEvent: svcCpuPerEvent,
      pgCpuMsPerEvent: ledger.skipped ? null : pgCpuPerEvent,
      rssPeakMb: memory.peakMb,
      ledgerOk,
      targets: { eventsPerS: eventsPerS >= TARGET, vsBare: vsBare >= VS_BARE, p99: p99Ok, pgCpu: !ledger.skipped && pgCpuPerEvent <= PG_CPU_MS, rss: memory.peakMb <= 300 },
    };
    writeResults('batch-ingest', { config: { connections, duration, batch: BATCH, organizations: orgs.length, mix: MIX.map((m) => m.eventType), embedded: EMBEDDED }, baseline: raw, bare, result: r, ledger: { before, after, checks: ledger.checks }, memory, summary });
    return summary;
  });
}

/**
 * Closed loop: `connections` workers each send one batch after another, organizations round robin, until
 * `seconds` have passed; a batch in flight then finishes and counts. Every answer is read: events accepted
 * are counted from the per-event results, so nothing is guessed. Elapsed time runs to the last answer.
 */
async function drive(baseUrl, orgs, body, { connections, seconds }) {
  const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  const latencies = [];
  let next = 0;
  let accepted = 0;
  let rejectedEvents = 0;
  let failed = 0;
  let batches = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        const org = orgs[next++ % orgs.length];
        const started = performance.now();
        try {
          const res = await fetch(`${baseUrl}/api/organizations/${org}/usage/events`, { method: 'POST', headers, body, signal: AbortSignal.timeout(300_000) });
          const answer = await res.json();
          if (res.status !== 200) {
            failed++;
            continue;
          }
          batches++;
          for (const item of answer.results) {
            if (item.status === 'accepted') accepted++;
            else rejectedEvents++;
          }
          latencies.push(performance.now() - started);
        } catch {
          failed++;
        }
      }
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  return { connections, elapsedS: round(elapsedS, 2), batches, accepted, rejectedEvents, failed, latencyMs: percentiles(latencies) };
}

runWhenMain(import.meta.url, run, (s) => s.ledgerOk);
