// `node bench/lone-event-ab.mjs`: a lone tracked event's latency and CPU, two builds side by side. Each build
// (BENCH_AB_A and BENCH_AB_B: folders holding a build, `dist` by default, e.g. a copy of another branch's)
// runs as its own service on its own fresh database, and one client sends them single events in turn (A, B,
// B, A, …), one request at a time: every event is alone in its transaction, and both builds meet the same
// moments of the machine's other work, so their ratio holds on a busy shared machine where the fixed-rate
// latency benchmark's figures swing by 2x between runs. Two passes: events without an idempotency key, then
// events each with a key of its own. `BENCH_AB_REQUESTS` a build and pass (1,500). With
// `BENCH_AB_CONNECTIONS` > 1 (1), that many requests at once, in slices of `BENCH_AB_SLICE` requests a connection (25), the builds in turn:
// events then share group commits, as in the hot-org benchmark; `BENCH_AB_ORGS` (50) organizations round robin
// (1: one hot organization). `BENCH_AB_ROUTE=decorated`: the `@TrackUsage` route (POST /api/visuals/planning: a
// hold, then its settlement) instead of the tracking API.
import http from 'node:http';
import { join, resolve } from 'node:path';
import { createOrganizations, percentiles, round } from './lib/http.mjs';
import { backendPids } from './lib/ledger.mjs';
import { fmt, printTable, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, backgroundLoad, cpuMeter, createDatabase, envInt, pool, ROOT, runWhenMain, startService } from './lib/service.mjs';

export async function run() {
  const requests = envInt('BENCH_AB_REQUESTS', 1500);
  const connections = envInt('BENCH_AB_CONNECTIONS', 1);
  const organizations = envInt('BENCH_AB_ORGS', 50);
  const decorated = process.env.BENCH_AB_ROUTE === 'decorated';
  const builds = [
    { name: 'A', dir: process.env.BENCH_AB_A ?? 'dist' },
    { name: 'B', dir: process.env.BENCH_AB_B ?? 'dist' },
  ];
  const busy = await backgroundLoad();
  console.log(`machine busy before the run: ${busy} of 2 cores; A = ${builds[0].dir}, B = ${builds[1].dir}`);
  try {
    for (const b of builds) {
      b.db = await createDatabase('ab');
      b.svc = await startService({ databaseUrl: b.db.url, main: join(resolve(ROOT, b.dir), 'src', 'main.js') });
      b.sql = pool(b.db.url, 1);
      b.orgs = await createOrganizations(b.svc.baseUrl, Array.from({ length: organizations }, (_, i) => `ab-${String(i).padStart(2, '0')}`));
      b.agent = new http.Agent({ keepAlive: true, maxSockets: connections });
      b.sent = 0;
    }
    const body = decorated ? JSON.stringify({ inputText: 'Why does the build fail on Mondays?' }) : JSON.stringify({ eventType: 'visuals_planning', eventData: { complexity: 1 } });
    const send = (b, keyed) =>
      new Promise((resolveSent, reject) => {
        const n = b.sent++;
        const org = b.orgs[n % b.orgs.length];
        const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(keyed ? { 'idempotency-key': `ab-${n}` } : {}), ...(decorated ? { 'x-organization-id': org } : {}) };
        const started = performance.now();
        const path = decorated ? '/api/visuals/planning' : `/api/organizations/${org}/usage/events`;
        const req = http.request(`${b.svc.baseUrl}${path}`, { method: 'POST', headers, agent: b.agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 201 || res.statusCode === 200 ? resolveSent(performance.now() - started) : reject(new Error(`answered ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(body);
      });
    // Warm-up: the JIT, the caches, each pooled connection's prepared statements.
    for (let i = 0; i < 300; i++) for (const b of builds) await send(b, i % 2 === 0);

    const rows = [];
    const results = {};
    for (const keyed of [false, true]) {
      const times = new Map(builds.map((b) => [b, []]));
      const meters = builds.map((b) => cpuMeter([b.svc.pid], backendPids(b.sql)));
      const slice = connections === 1 ? 1 : envInt('BENCH_AB_SLICE', 25);
      for (let i = 0; i < requests / (slice * connections); i++) {
        const order = i % 2 === 0 ? builds : [...builds].reverse();
        for (const b of order) {
          await Promise.all(
            Array.from({ length: connections }, async () => {
              for (let n = 0; n < slice; n++) times.get(b).push(await send(b, keyed));
            }),
          );
        }
      }
      const cpu = await Promise.all(meters.map((m) => m.end()));
      builds.forEach((b, n) => {
        const p = percentiles(times.get(b));
        const perEvent = (cores) => round((cores * cpu[n].seconds * 1000) / times.get(b).length, 3);
        const r = { p50: p.p50, p90: p.p90, p99: p.p99, serviceCpuMs: perEvent(cpu[n].serviceCores), postgresCpuMs: perEvent(cpu[n].postgresCores), otherCores: cpu[n].otherCores };
        results[`${keyed ? 'keyed' : 'keyless'}-${b.name}`] = r;
        rows.push([`${keyed ? 'with' : 'without'} a key, ${b.name} (${b.dir})`, fmt(times.get(b).length), r.p50, r.p90, r.p99, `${r.serviceCpuMs} / ${r.postgresCpuMs}`, r.otherCores]);
      });
      const a = results[`${keyed ? 'keyed' : 'keyless'}-A`];
      const bb = results[`${keyed ? 'keyed' : 'keyless'}-B`];
      rows.push([`${keyed ? 'with' : 'without'} a key, B / A`, '', round(bb.p50 / a.p50, 3), round(bb.p90 / a.p90, 3), round(bb.p99 / a.p99, 3), `${round(bb.serviceCpuMs / a.serviceCpuMs, 3)} / ${round(bb.postgresCpuMs / a.postgresCpuMs, 3)}`, '']);
    }
    printTable(`${decorated ? '@TrackUsage calls' : 'Single tracked events'}, ${connections} at a time over ${organizations} organizations, the two builds in turn (ms)`, [{ title: 'build' }, { title: 'events' }, { title: 'p50' }, { title: 'p90' }, { title: 'p99' }, { title: 'CPU ms/event svc / pg' }, { title: 'other cores' }], rows);
    writeResults('lone-event-ab', { builds: builds.map((b) => ({ name: b.name, dir: b.dir })), route: decorated ? 'decorated' : 'api', requests, connections, organizations, busyBefore: busy, results });
    return { ok: true, results };
  } finally {
    for (const b of builds) {
      b.agent?.destroy();
      await b.svc?.stop(10_000).catch(() => undefined);
      await b.sql?.end().catch(() => undefined);
      await b.db?.drop().catch(() => undefined);
    }
  }
}

runWhenMain(import.meta.url, run);
