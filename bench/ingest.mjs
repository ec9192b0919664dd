// Benchmark: durable asynchronous ingestion on the PostgreSQL queue.   `node bench/ingest.mjs` (or `npm run bench -- ingest`)
//
// Three figures, each next to a reference measured in the same run on the same machine:
//   1. Asynchronous single calls accepted per second: autocannon on the async @TrackUsage route
//      POST /api/push/sow-to-loe (BENCH_CONNECTIONS=50 connections, BENCH_DURATION=10 s, 64 organizations
//      round robin), every 200 a committed queue row. The service runs with INGEST_DRAINERS=0 here, so the
//      figure is acceptance alone. Reference: the bare Fastify JSON POST route. Target: >= 0.25x its req/s.
//   2. Drained events per second: BENCH_INGEST_BACKLOG=200,000 events waiting in the queue (those accepted in
//      1, topped up by SQL), then a second service process with drainers (INGEST_DRAINERS=BENCH_INGEST_DRAINERS,
//      2 by default) drains it; events/s = drained / time to empty. Reference: raw `INSERT … SELECT FROM
//      unnest` of 1,000 rows a statement. Target: >= 50,000/s.
//   3. The lag's p99 at half the drain rate: asynchronous batches of 100 events (Prefer: respond-async) sent
//      open loop at half of 2's rate for BENCH_LAG_S=15 s, the oldest waiting event's age sampled every 50 ms.
//      Target: p99 <= 1 s. BENCH_LAG_RATE=<events/s> sends at that rate instead (two builds at the same load).
// Then: every accepted event is in the ledger once (ledger rows = events accepted, all keys distinct) and
// the ledger checks hold.
import { measureBareRoute } from './lib/bare-route.mjs';
import { createOrganizations, load, percentiles, round } from './lib/http.mjs';
import { backendPids, checkLedger, queueLag, queueWaiting } from './lib/ledger.mjs';
import { unnestInserts } from './lib/pg-baselines.mjs';
import { fmt, printTable, verdict, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, cpuMeter, EMBEDDED, envInt, isMain, sleep, startService, withService } from './lib/service.mjs';

const TARGETS = { acceptVsBare: 0.25, drainPerS: 50_000, lagP99Ms: 1000 };
const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };

export async function run() {
  if (EMBEDDED) throw new Error('bench/ingest.mjs runs on PostgreSQL (two service processes share the queue)');
  const duration = envInt('BENCH_DURATION', 10);
  const connections = envInt('BENCH_CONNECTIONS', 50);
  const backlog = envInt('BENCH_INGEST_BACKLOG', 200_000);
  const drainers = envInt('BENCH_INGEST_DRAINERS', 2);
  const lagSeconds = envInt('BENCH_LAG_S', 15);
  return withService(
    async ({ db, svc, sql }) => {
      const orgs = await createOrganizations(svc.baseUrl, Array.from({ length: 64 }, (_, i) => `ingest-${String(i).padStart(2, '0')}`));
      const raw = await unnestInserts(db.url, { clients: 4, seconds: 5, rows: 1000 });
      const bare = await measureBareRoute({ connections, duration: Math.min(5, duration) });

      // 1. Acceptance alone (this service has no drainer).
      let i = 0;
      const requests = [{ method: 'POST', headers, body: JSON.stringify({ payload: 'x' }), setupRequest: (req) => ({ ...req, path: '/api/push/sow-to-loe', headers: { ...headers, 'x-organization-id': orgs[i++ % orgs.length] } }) }];
      await load({ url: svc.baseUrl, connections: 8, duration: 2, requests }); // warm-up
      const accept = await load({ title: 'async singles', url: svc.baseUrl, connections, duration, requests });
      const acceptVsBare = round(accept.okPerS / bare.perS, 3);
      await sleep(2000); // calls autocannon cut off at the end may still be stored: count after they land
      const queued = await queueWaiting(sql);

      // 2. Drain a backlog: top it up by SQL to `backlog` events, then start a draining instance and time it.
      const topUp = Math.max(0, backlog - queued);
      await sql.query(
        `INSERT INTO ingest_queue (id, organization_id, payload, bytes, enqueued_at)
         SELECT o || ':fill-' || g, o, jsonb_build_object('organizationId', o, 'eventType', 'push_sow_to_loe', 'eventData', '{}'::jsonb, 'idempotencyKey', 'fill-' || g, 'acceptedAt', now()), 120, now()
           FROM generate_series(1, $1::int) g, LATERAL (SELECT 'ingest-' || lpad(((g % 64))::text, 2, '0') AS o) x`,
        [topUp],
      );
      const total = queued + topUp;
      const [{ before }] = (await sql.query(`SELECT count(*)::int AS before FROM usage_events`)).rows;
      const t0 = performance.now();
      const drainer = await startService({ databaseUrl: db.url, env: { INGEST_DRAINERS: String(drainers), ASYNC_BATCH_SIZE: process.env.BENCH_INGEST_BATCH ?? '5000' } });
      let left = total;
      while (left > 0) {
        await sleep(100);
        left = await queueWaiting(sql);
      }
      const drainS = (performance.now() - t0) / 1000 - drainer.startupMs / 1000;
      const drainPerS = round(total / drainS, 0);

      // 3. The lag at half the drain rate: batches of 100, open loop.
      // BENCH_LAG_RATE fixes the rate (events/s), to compare two builds at the same load.
      const perS = envInt('BENCH_LAG_RATE', 0) || Math.max(100, Math.floor(drainPerS / 2));
      const batch = 100;
      const interval = 1000 / (perS / batch);
      const ages = [];
      // [ms since the start, oldest waiting event's age ms, events waiting]: where in the run the lag grew.
      const series = [];
      let sent = 0;
      let failed = 0;
      let stop = false;
      // Cores busy while the lag is measured: at half the drain rate the accepting and the draining share them.
      const lagCpu = cpuMeter([drainer.pid], backendPids(sql));
      const start = performance.now();
      const sampler = (async () => {
        while (!stop) {
          const { ms, n } = await queueLag(sql);
          ages.push(ms);
          series.push([round(performance.now() - start, 0), round(ms, 0), n]);
          await sleep(50);
        }
      })();
      const inflight = [];
      for (let k = 0; performance.now() - start < lagSeconds * 1000; k++) {
        const due = start + k * interval;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const org = orgs[k % orgs.length];
        const body = JSON.stringify({ events: Array.from({ length: batch }, (_, j) => ({ eventType: 'push_sow_to_loe', idempotencyKey: `lag-${k}-${j}` })) });
        inflight.push(
          fetch(`${drainer.baseUrl}/api/organizations/${org}/usage/events`, { method: 'POST', headers: { ...headers, prefer: 'respond-async' }, body })
            .then(async (res) => {
              await res.arrayBuffer();
              if (res.status === 202) sent += batch;
              else failed++;
            })
            .catch(() => failed++),
        );
      }
      await Promise.all(inflight);
      const achieved = round(sent / ((performance.now() - start) / 1000), 0);
      const lagCores = await lagCpu.end();
      for (;;) {
        const n = await queueWaiting(sql);
        if (n === 0) break;
        await sleep(100);
      }
      stop = true;
      await sampler;
      await drainer.stop(10_000);
      const lag = percentiles(ages);

      // Nothing lost, nothing twice.
      const [{ rows: ledgerRows, keys }] = (await sql.query(`SELECT count(*)::int AS rows, count(DISTINCT (organization_id, idempotency_key))::int AS keys FROM usage_events`)).rows;
      // Everything the queue held (the calls accepted in 1 and the top-up) and every batch answered 202 in 3.
      const expected = before + total + sent;
      const ledger = await checkLedger(sql);
      const countOk = ledgerRows === keys && ledgerRows === expected;

      printTable('Asynchronous ingestion on the PostgreSQL queue', [{ title: 'run' }, { title: 'per s' }, { title: 'ratio' }, { title: 'notes' }], [
        [bare.what, fmt(bare.perS), '1.000', 'reference for 1'],
        [`1. async single calls accepted (${connections} conn, no drainer)`, fmt(accept.okPerS), acceptVsBare.toFixed(3), `p99 ${accept.latencyMs.p99} ms, non-2xx ${accept.non2xx}`],
        [raw.what, fmt(raw.perS), '1.000', 'reference for 2'],
        [`2. drained events (${fmt(total)} waiting, ${drainers} drainers, batch ${process.env.BENCH_INGEST_BATCH ?? 5000})`, fmt(drainPerS), round(drainPerS / raw.perS, 3).toFixed(3), `${round(drainS, 2)} s to empty`],
        [`3. async batches of ${batch} at half the drain rate`, fmt(achieved), '-', `lag p50 ${lag.p50} ms, p99 ${lag.p99} ms, max ${lag.max} ms; failed ${failed}; cores svc/pg/other ${lagCores.serviceCores}/${lagCores.postgresCores}/${lagCores.otherCores}`],
      ]);
      printTable('Checks and targets', [{ title: 'what' }, { title: 'measured' }, { title: 'target' }, { title: 'verdict' }], [
        ['async single calls accepted / bare route req/s', acceptVsBare, `>= ${TARGETS.acceptVsBare}`, verdict(acceptVsBare >= TARGETS.acceptVsBare)],
        ['drained events/s', fmt(drainPerS), `>= ${fmt(TARGETS.drainPerS)}`, verdict(drainPerS >= TARGETS.drainPerS)],
        ['lag p99 at half the drain rate (ms)', lag.p99, `<= ${TARGETS.lagP99Ms}`, verdict(lag.p99 !== null && lag.p99 <= TARGETS.lagP99Ms)],
        ['ledger rows, distinct keys / events accepted', `${fmt(ledgerRows)}, ${fmt(keys)} / ${fmt(expected)}`, 'equal, none twice', countOk ? 'ok' : 'VIOLATION'],
        ...ledger.checks.map((c) => [c.name, c.ok ? 'holds' : JSON.stringify(c.rows.slice(0, 2)), 'holds', c.ok ? 'ok' : 'VIOLATION']),
      ]);
      const summary = {
        bareRps: bare.perS,
        acceptedPerS: accept.okPerS,
        acceptVsBare,
        rawRowsPerS: raw.perS,
        drainPerS,
        drainVsRaw: round(drainPerS / raw.perS, 3),
        lagRatePerS: achieved,
        lagP99Ms: lag.p99,
        ledgerOk: ledger.ok && countOk,
        targets: { acceptVsBare: acceptVsBare >= TARGETS.acceptVsBare, drainPerS: drainPerS >= TARGETS.drainPerS, lagP99: lag.p99 !== null && lag.p99 <= TARGETS.lagP99Ms },
      };
      writeResults('ingest', { config: { duration, connections, backlog, drainers, lagSeconds }, bare, accept, raw, drain: { total, seconds: drainS, perS: drainPerS }, lag: { ...lag, ratePerS: achieved, failed, cpu: lagCores, series }, summary });
      return summary;
    },
    { env: { INGEST_DRAINERS: '0', INGEST_MAX_MESSAGES: '10000000' }, dbPrefix: 'bench_ingest' },
  );
}

if (isMain(import.meta.url)) await run();
