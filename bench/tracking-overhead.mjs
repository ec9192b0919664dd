// Benchmark 1 (and 6, memory): what @TrackUsage costs on a trivial route.
//
//   node bench/tracking-overhead.mjs        (or: npm run bench -- overhead)
//
// The same load (autocannon, BENCH_CONNECTIONS=50 connections, BENCH_DURATION=10 s each) against:
//   - untracked baseline: the untracked twin of the tool route, POST /api/untracked/visuals/planning (same
//     guard, body and handler, no @TrackUsage; the service registers it when BENCH_ROUTES=true, see
//     bench/README.md) when the service has it; otherwise GET /api/plans, the closest plain route doing the
//     stand-in tool's kind of work (in memory, no database). The output names the baseline used;
//   - second baseline: POST /api/organizations/:orgId/usage/check (prices the event, reads the balance: one
//     read transaction, no write), to separate "any database round trip" from "metering";
//   - tracked: POST /api/visuals/planning with @TrackUsage('visuals_planning') (synchronous: reserve,
//     handler, commit), organizations taken round robin from 100 (enterprise plan: nothing is refused);
//   - tracked, one organization: the same on a single organization (its balance row is the hot spot);
//   - reference: a bare Fastify JSON POST route (bench/lib/bare-server.mjs: no Nest, no database), same load.
// Target: tracked / untracked throughput >= 0.3. After the run every 2xx of the tracked runs must be one
// ledger row and every balance must equal its ledger.
import { measureBareRoute } from './lib/bare-route.mjs';
import { api, createOrganizations, load, round } from './lib/http.mjs';
import { backendPids, checkLedger, ledgerTotals } from './lib/ledger.mjs';
import { fmt, printTable, verdict, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, cpuMeter, envInt, runWhenMain, sampleRss, sleep, withService } from './lib/service.mjs';

const TARGET_RATIO = 0.3;
/** The untracked twin of POST /api/visuals/planning (asked of the service: see bench/README.md). */
const TWIN_PATH = process.env.BENCH_UNTRACKED_PATH ?? '/api/untracked/visuals/planning';
const RSS_TARGET_MB = 300;

export async function run() {
  const duration = envInt('BENCH_DURATION', 10);
  const connections = envInt('BENCH_CONNECTIONS', 50);
  return withService(
    async ({ svc, sql }) => {
      const orgs = await createOrganizations(svc.baseUrl, Array.from({ length: 100 }, (_, i) => `ovh-${String(i).padStart(3, '0')}`));
      let next = 0;
      const nextOrg = () => orgs[next++ % orgs.length];
      const auth = { authorization: `Bearer ${ADMIN_KEY}` };
      const json = { ...auth, 'content-type': 'application/json' };
      const toolBody = JSON.stringify({ inputText: 'Why does the build fail on Mondays?' });

      const twin = await api(svc.baseUrl, 'POST', TWIN_PATH, { inputText: 'probe' }, { expect: null, headers: { 'x-organization-id': orgs[0] } });
      const hasTwin = twin.status === 200;
      const baselineRoute = hasTwin ? `POST ${TWIN_PATH}` : 'GET /api/plans';
      if (!hasTwin) console.log(`no untracked twin route (${TWIN_PATH} answered ${twin.status}): the baseline is GET /api/plans, the closest plain route`);

      // Every run rebuilds its request per call (setupRequest), so the load generator does the same work in each.
      const scenarios = [
        hasTwin
          ? {
              key: 'untracked',
              title: `untracked twin: ${baselineRoute} (baseline)`,
              requests: [{ method: 'POST', path: TWIN_PATH, body: toolBody, setupRequest: (req) => ({ ...req, headers: { ...json, 'x-organization-id': nextOrg() } }) }],
            }
          : {
              key: 'untracked',
              title: 'untracked: GET /api/plans (baseline)',
              requests: [{ method: 'GET', path: '/api/plans', headers: auth, setupRequest: (req) => req }],
            },
        {
          key: 'check',
          title: 'untracked + 1 DB read: POST …/usage/check',
          requests: [{ method: 'POST', headers: json, body: JSON.stringify({ eventType: 'visuals_planning', eventData: { inputText: 'Why does the build fail on Mondays?' } }), setupRequest: (req) => ({ ...req, path: `/api/organizations/${nextOrg()}/usage/check` }) }],
        },
        {
          key: 'tracked',
          title: 'tracked: POST /api/visuals/planning, 100 orgs',
          requests: [{ method: 'POST', path: '/api/visuals/planning', body: toolBody, setupRequest: (req) => ({ ...req, headers: { ...json, 'x-organization-id': nextOrg() } }) }],
          tracked: true,
        },
        {
          key: 'trackedHot',
          title: 'tracked: POST /api/visuals/planning, 1 org',
          requests: [{ method: 'POST', path: '/api/visuals/planning', body: toolBody, setupRequest: (req) => ({ ...req, headers: { ...json, 'x-organization-id': orgs[0] } }) }],
          tracked: true,
        },
      ];

      // The bare route first, while the service idles (its own child process, the same load generator).
      const bare = await measureBareRoute({ connections, duration, body: toolBody });

      // Warm-up: JIT, connection pools, registries, partitions (not measured).
      for (const s of scenarios) await load({ url: svc.baseUrl, connections, duration: 2, requests: s.requests });
      await sleep(2000); // the warm-up's last requests finish
      const warmup = await ledgerTotals(sql);

      const rss = sampleRss(() => svc.pid);
      const results = {};
      for (const s of scenarios) {
        rss.mark(s.key);
        const cpu = cpuMeter([svc.pid], backendPids(sql));
        results[s.key] = { ...(await load({ title: s.title, url: svc.baseUrl, connections, duration, requests: s.requests })), cpu: await cpu.end(), rss: rss.summary(s.key) };
      }
      const memory = rss.stop();

      const base = results.untracked;
      const rows = [[bare.what, fmt(bare.perS), fmt(bare.result.non2xx + bare.result.errors), bare.result.latencyMs.p50, bare.result.latencyMs.p99, '-', '1.000', '-', `${bare.result.cpu.serviceCores}/-/${bare.result.cpu.loadgenCores}/${bare.result.cpu.otherCores}`, '-']];
      rows.push(...scenarios.map((s) => {
        const r = results[s.key];
        r.cpuPerRequestMs = perRequest(r);
        return [
          s.title,
          fmt(r.okPerS),
          fmt(r.non2xx + r.errors),
          r.latencyMs.p50,
          r.latencyMs.p99,
          s.key === 'untracked' ? '1.000' : round(r.okPerS / base.okPerS, 3).toFixed(3),
          round(r.okPerS / bare.perS, 3).toFixed(3),
          `${r.cpuPerRequestMs.service} / ${r.cpuPerRequestMs.postgres}`,
          `${r.cpu.serviceCores}/${r.cpu.postgresCores}/${r.cpu.loadgenCores}/${r.cpu.otherCores}`,
          r.rss.peakMb,
        ];
      }));
      printTable(
        `Tracking overhead: ${connections} connections, ${duration} s each (ratio = 2xx/s over the baseline's, ${baselineRoute})`,
        [{ title: 'route' }, { title: '2xx/s' }, { title: 'errors' }, { title: 'p50 ms' }, { title: 'p99 ms' }, { title: 'ratio' }, { title: 'vs bare' }, { title: 'CPU ms/req svc / pg' }, { title: 'cores svc/pg/loadgen/other' }, { title: 'RSS peak MB' }],
        rows,
      );
      console.log('  (other = CPU used by everything else on the machine during the run: other engineers\' tests make figures noisy; compare ratios)');

      // Every tracked 2xx is one ledger row, and the ledger holds together. autocannon stops counting at the
      // deadline while up to `connections` requests per run are still in flight (and then commit): the ledger
      // may hold that many more rows than 2xx were counted, never fewer.
      await sleep(2000);
      const totals = await ledgerTotals(sql);
      const trackedOk = results.tracked.ok + results.trackedHot.ok;
      const newRows = totals.events - warmup.events;
      const ledger = await checkLedger(sql);
      const ratio = round(results.tracked.okPerS / base.okPerS, 3);
      const ratioVsCheck = round(results.tracked.okPerS / results.check.okPerS, 3);
      // The same comparison in CPU time per request (service + PostgreSQL): what throughput would be on an idle machine.
      const cost = (r) => r.cpuPerRequestMs.service + r.cpuPerRequestMs.postgres;
      const cpuRatio = round(cost(base) / cost(results.tracked), 3);
      // Embedded (no SQL from outside): the row count cannot be checked; ledger.skipped says so in the results.
      const countOk = ledger.skipped || (newRows >= trackedOk && newRows <= trackedOk + 2 * connections);
      const ledgerOk = ledger.ok && countOk && totals.pendingReservations === 0;
      const ratioVsBare = round(results.tracked.okPerS / bare.perS, 3);

      printTable('Targets', [{ title: 'what' }, { title: 'measured' }, { title: 'target' }, { title: 'verdict' }], [
        [`tracked / untracked (${baselineRoute})`, ratio, `>= ${TARGET_RATIO}`, verdict(ratio >= TARGET_RATIO)],
        ['tracked / usage/check (1 DB read)', ratioVsCheck, '(information)', ''],
        ['tracked (100 orgs) / bare Fastify JSON POST route', ratioVsBare, '(information)', ''],
        ['untracked / tracked CPU ms per request (svc + pg)', cpuRatio, '(information)', ''],
        ['service RSS peak (MB)', memory.peakMb, `<= ${RSS_TARGET_MB}`, verdict(memory.peakMb <= RSS_TARGET_MB)],
        ledger.skipped
          ? ['ledger checks', 'not run (embedded database)', '', '']
          : ['tracked 2xx counted / new ledger rows (+ in flight at the deadline)', `${fmt(trackedOk)} / ${fmt(newRows)}`, `<= 2x${connections} apart`, ledgerOk ? 'ok' : 'VIOLATION'],
      ]);
      for (const c of ledger.checks.filter((c) => !c.ok)) console.log(`  ledger check failed: ${c.name}: ${JSON.stringify(c.rows.slice(0, 3))}`);

      const summary = {
        ratio,
        ratioVsCheck,
        ratioVsBare,
        bareRps: bare.perS,
        cpuRatio,
        untrackedRps: base.okPerS,
        trackedRps: results.tracked.okPerS,
        trackedHotRps: results.trackedHot.okPerS,
        baselineRoute,
        rssPeakMb: memory.peakMb,
        ledgerOk,
        targets: { ratio: ratio >= TARGET_RATIO, rss: memory.peakMb <= RSS_TARGET_MB },
      };
      writeResults('tracking-overhead', { config: { connections, duration, organizations: orgs.length, plan: 'enterprise', startupMs: svc.startupMs, embedded: ledger.skipped === true }, bare, results, memory, ledger: { totals, trackedOk, checks: ledger.checks }, summary });
      return summary;
    },
    // BENCH_ROUTES=true: the service registers its untracked twin route when it has one (ignored otherwise).
    { env: { BENCH_ROUTES: 'true' } },
  );
}

/** Service and PostgreSQL CPU milliseconds per answered request: less sensitive to the machine's other load than req/s. */
function perRequest(r) {
  const seconds = r.cpu.seconds;
  const n = Math.max(1, r.requests);
  return { service: round((r.cpu.serviceCores * seconds * 1000) / n, 3), postgres: round((r.cpu.postgresCores * seconds * 1000) / n, 3) };
}

runWhenMain(import.meta.url, run, (s) => s.ledgerOk);
