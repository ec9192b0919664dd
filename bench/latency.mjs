// Latency of one tracked event at a fixed request rate (not at saturation): what a caller waits for when the
// service has nothing to wait for.
//
//   node bench/latency.mjs        (or: npm run bench -- latency)
//
// A paced load generator (bench/lib/paced.mjs): BENCH_LATENCY_RATES=100,500 requests/s, each sent at its
// scheduled time over BENCH_LATENCY_CONNECTIONS=4 keep-alive connections (node:http, sub-millisecond timer),
// BENCH_LATENCY_SECONDS=4 s a run. Latency is measured from the moment a request is handed to the client
// (a request waiting for a free connection is counted from then) to its last byte. Runs, at each rate:
//   - the bare Fastify JSON POST route (bench/lib/bare-server.mjs, same body): the floor of this generator, HTTP
//     and Node on this machine;
//   - raw PostgreSQL: one `INSERT` of one row in an autocommit transaction, 4 clients at the same rate (one
//     durable commit: the floor of any tracked event's database work, `pgbench -R` in Node);
//   - the tracking API, POST /api/organizations/:orgId/usage/events with one event, organizations round robin
//     over 50 (enterprise: nothing refused);
//   - a `@TrackUsage` route, POST /api/visuals/planning (reserve, handler, settle), the same organizations;
//   - at the first rate only: its untracked twin, POST /api/untracked/visuals/planning (same guard and handler,
//     no @TrackUsage; BENCH_ROUTES=true): what the framework and the handler cost without the tracking.
// Reported per run: p50, p90, p99, max, the rate reached, non-2xx, the generator's own lateness (p99 of how late
// a request left after its scheduled time: when it is high the machine, not the service, is the story), and
// the service's / PostgreSQL's CPU milliseconds per request. Target (the lean hot path): p50 <= 2 ms and
// p99 <= 10 ms for the tracking API and the @TrackUsage route at 100 and at 500 requests/s. Afterwards every
// 2xx is a ledger row and the ledger holds.
import pg from 'pg';
import { startBareRoute } from './lib/bare-route.mjs';
import { createOrganizations, round } from './lib/http.mjs';
import { backendPids, checkLedger, ledgerTotals } from './lib/ledger.mjs';
import { paced, pacedHttp } from './lib/paced.mjs';
import { fmt, printTable, verdict, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, cpuMeter, EMBEDDED, envInt, runWhenMain, sleep, withService } from './lib/service.mjs';

const TARGET_P50_MS = 2;
const TARGET_P99_MS = 10;
const TWIN_PATH = process.env.BENCH_UNTRACKED_PATH ?? '/api/untracked/visuals/planning';

export async function run() {
  const seconds = envInt('BENCH_LATENCY_SECONDS', 4);
  const connections = envInt('BENCH_LATENCY_CONNECTIONS', 4);
  const rates = (process.env.BENCH_LATENCY_RATES ?? '100,500').split(',').map(Number).filter((n) => n > 0);
  return withService(
    async ({ db, svc, sql }) => {
      const orgs = await createOrganizations(svc.baseUrl, Array.from({ length: 50 }, (_, i) => `lat-${String(i).padStart(2, '0')}`));
      let next = 0;
      const nextOrg = () => orgs[next++ % orgs.length];
      const json = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
      const eventBody = JSON.stringify({ eventType: 'visuals_planning', eventData: { complexity: 1 } });
      const toolBody = JSON.stringify({ inputText: 'Why does the build fail on Mondays?' });

      const bare = await startBareRoute();
      const raw = EMBEDDED ? undefined : await rawInsertClients(db.url, connections);
      const targets = {
        bare: { title: 'bare Fastify JSON POST route', request: (i) => ({ url: `${bare.baseUrl}/bare/org-${i % 50}/events`, headers: { 'content-type': 'application/json' }, body: eventBody }), pid: () => bare.pid },
        raw: raw && { title: 'raw PostgreSQL: 1-row INSERT, autocommit', raw },
        api: { title: 'tracking API: POST …/usage/events (1 event)', request: () => ({ url: `${svc.baseUrl}/api/organizations/${nextOrg()}/usage/events`, headers: json, body: eventBody }), pid: () => svc.pid, tracked: true },
        decorated: { title: '@TrackUsage: POST /api/visuals/planning', request: () => ({ url: `${svc.baseUrl}/api/visuals/planning`, headers: { ...json, 'x-organization-id': nextOrg() }, body: toolBody }), pid: () => svc.pid, tracked: true },
        twin: { title: `untracked twin: POST ${TWIN_PATH}`, request: () => ({ url: `${svc.baseUrl}${TWIN_PATH}`, headers: { ...json, 'x-organization-id': nextOrg() }, body: toolBody }), pid: () => svc.pid },
      };
      const twinProbe = await fetch(`${svc.baseUrl}${TWIN_PATH}`, { method: 'POST', headers: { ...json, 'x-organization-id': orgs[0] }, body: toolBody });
      if (twinProbe.status !== 200) delete targets.twin;

      const results = [];
      let after;
      let trackedOk;
      let newRows;
      try {
        // Warm-up (JIT, pools, partitions, the organizations' cached rows), not measured.
        for (const key of ['bare', 'api', 'decorated', 'twin']) if (targets[key]) await pacedHttp({ rate: 200, seconds: 1.5, connections, request: targets[key].request });
        await sleep(500);
        const before = await ledgerTotals(sql);
        for (const rate of rates) {
          for (const key of ['bare', 'raw', 'api', 'decorated', 'twin']) {
            const t = targets[key];
            if (!t || (key === 'twin' && rate !== rates[0])) continue;
            const cpu = cpuMeter(t.pid ? [t.pid()] : [], key === 'bare' ? undefined : backendPids(sql));
            const r = t.raw ? await paced({ rate, seconds, concurrency: connections, send: (i) => t.raw.insert(i) }) : await pacedHttp({ rate, seconds, connections, request: t.request });
            r.cpu = await cpu.end();
            results.push({ key, rate, title: t.title, tracked: t.tracked === true, ...r });
          }
        }
        await sleep(500);
        after = await ledgerTotals(sql);
        trackedOk = results.filter((r) => r.tracked).reduce((a, r) => a + r.ok, 0);
        newRows = after.events - before.events;
      } finally {
        await bare.stop();
        await raw?.close();
      }
      const ledger = await checkLedger(sql);
      const countOk = ledger.skipped || newRows === trackedOk;
      const ledgerOk = ledger.ok && countOk && (after?.pendingReservations ?? 0) === 0;

      const perReq = (r, cores) => (r.cpu && r.sent > 0 ? round((cores * r.cpu.seconds * 1000) / r.sent, 3) : null);
      printTable(
        `Latency at a fixed rate: ${connections} connections, ${seconds} s a run (ms from the request handed to the client to its last byte)`,
        [{ title: 'route' }, { title: 'rate' }, { title: 'reached/s' }, { title: 'p50' }, { title: 'p90' }, { title: 'p99' }, { title: 'max' }, { title: 'not 2xx' }, { title: 'sender late p99' }, { title: 'CPU ms/req svc/pg' }, { title: 'cores svc/pg/other' }],
        results.map((r) => [
          r.title,
          r.rate,
          fmt(r.reachedPerS),
          r.latencyMs.p50,
          r.latencyMs.p90,
          r.latencyMs.p99,
          r.latencyMs.max,
          fmt(r.failed),
          r.lateMs.p99,
          r.key === 'raw' ? `-/${perReq(r, r.cpu.postgresCores)}` : `${perReq(r, r.cpu.serviceCores)}/${r.key === 'bare' ? '-' : perReq(r, r.cpu.postgresCores)}`,
          `${r.cpu.serviceCores}/${r.cpu.postgresCores}/${r.cpu.otherCores}`,
        ]),
      );
      const find = (key, rate) => results.find((r) => r.key === key && r.rate === rate);
      const checks = [];
      const targetRows = {};
      for (const key of ['api', 'decorated']) {
        for (const rate of rates) {
          const r = find(key, rate);
          const ok = r.latencyMs.p50 !== null && r.latencyMs.p50 <= TARGET_P50_MS && r.latencyMs.p99 <= TARGET_P99_MS && r.failed === 0;
          targetRows[`${key}@${rate}`] = { p50: r.latencyMs.p50, p99: r.latencyMs.p99, ok, bareP50: find('bare', rate)?.latencyMs.p50, bareP99: find('bare', rate)?.latencyMs.p99 };
          checks.push([`${targets[key].title} at ${rate}/s: p50 / p99 ms (bare route ${find('bare', rate)?.latencyMs.p50} / ${find('bare', rate)?.latencyMs.p99})`, `${r.latencyMs.p50} / ${r.latencyMs.p99}`, `<= ${TARGET_P50_MS} / <= ${TARGET_P99_MS}`, verdict(ok)]);
        }
      }
      printTable('Checks and targets', [{ title: 'what' }, { title: 'measured' }, { title: 'target' }, { title: 'verdict' }], [
        ...checks,
        ledger.skipped
          ? ['ledger checks and row counts', 'not run (embedded database)', '', '']
          : ['tracked 2xx counted / new ledger rows', `${fmt(trackedOk)} / ${fmt(newRows)}`, 'equal', countOk ? 'ok' : 'VIOLATION'],
        ...ledger.checks.map((c) => [c.name, c.ok ? 'holds' : JSON.stringify(c.rows.slice(0, 2)), 'holds', c.ok ? 'ok' : 'VIOLATION']),
      ]);
      const summary = {
        rates,
        connections,
        latency: Object.fromEntries(results.map((r) => [`${r.key}@${r.rate}`, { p50: r.latencyMs.p50, p90: r.latencyMs.p90, p99: r.latencyMs.p99, reachedPerS: r.reachedPerS, senderLateP99: r.lateMs.p99, serviceCpuMsPerReq: r.key === 'raw' ? null : perReq(r, r.cpu.serviceCores), pgCpuMsPerReq: r.key === 'bare' ? null : perReq(r, r.cpu.postgresCores) }])),
        targetRows,
        ledgerOk,
        targets: { latency: Object.values(targetRows).every((t) => t.ok) },
      };
      writeResults('latency', { config: { rates, connections, seconds, organizations: orgs.length, embedded: EMBEDDED }, results, ledger: { trackedOk, newRows, checks: ledger.checks }, summary });
      return summary;
    },
    { env: { BENCH_ROUTES: 'true' } },
  );
}

/** `connections` pg clients, each inserting one row per call in its own autocommit transaction. */
async function rawInsertClients(url, n) {
  const list = Array.from({ length: n }, () => new pg.Client({ connectionString: url }));
  await Promise.all(list.map((c) => c.connect()));
  await list[0].query(`CREATE TABLE IF NOT EXISTS bench_latency_rows (id bigserial PRIMARY KEY, organization_id text NOT NULL, credits numeric(18,2) NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
  const free = [...list];
  const waiting = [];
  const take = () => (free.length > 0 ? Promise.resolve(free.pop()) : new Promise((r) => waiting.push(r)));
  const give = (c) => (waiting.length > 0 ? waiting.shift()(c) : free.push(c));
  return {
    async insert(i) {
      const c = await take();
      try {
        await c.query({ name: 'bench-latency-insert', text: 'INSERT INTO bench_latency_rows (organization_id, credits) VALUES ($1, $2)', values: [`org-${i % 50}`, '8'] });
        return true;
      } finally {
        give(c);
      }
    },
    async close() {
      await list[0].query('DROP TABLE IF EXISTS bench_latency_rows').catch(() => undefined);
      await Promise.all(list.map((c) => c.end().catch(() => undefined)));
    },
  };
}

runWhenMain(import.meta.url, run, (s) => s.ledgerOk);
