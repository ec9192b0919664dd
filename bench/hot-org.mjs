// Benchmark 2: one hot organization, many concurrent tracked events (POST …/usage/events, synchronous).
//
//   node bench/hot-org.mjs        (or: npm run bench -- hot-org)
//
// Runs, each BENCH_DURATION=10 s:
//   - baseline, raw PostgreSQL: conditional UPDATE of one hot row, 8 clients (STACK.md's ~5,000/s anchor);
//   - baseline, the service with no hot row: the same requests spread over BENCH_SPREAD_ORGS=50 organizations;
//   - reference: a bare Fastify JSON POST route (bench/lib/bare-server.mjs), the same load and connections:
//     the lean-hot-path targets are single events (1 org and 50 orgs) >= 0.15 of it, 50 orgs >= 0.9 of 1 org, and
//     <= 0.08 ms of service CPU per single tracked event;
//   - hot: one enterprise organization (no count limits, overage allowed, no spend cap: nothing is refused),
//     BENCH_HOT_CONNECTIONS=64 connections;
//   - hot with refusals (5 s): one starter organization with a 2,000-credit top-up and a $1 spend cap, so
//     allowance, top-up and overage run out mid-run and the rest is refused (402).
// Afterwards the ledger is checked: every balance equals its ledger, nothing is overspent (allowance,
// grants, spend cap, count limits), and the 2xx counted match the rows written. Target: >= 10,000 events/s.
import { measureBareRoute } from './lib/bare-route.mjs';
import { api, createOrganizations, load, round } from './lib/http.mjs';
import { backendPids, checkLedger } from './lib/ledger.mjs';
import { hotRowUpdates } from './lib/pg-baselines.mjs';
import { fmt, printTable, verdict, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, cpuMeter, EMBEDDED, envInt, runWhenMain, sampleRss, sleep, withService } from './lib/service.mjs';

const TARGET = 10_000;
/** The lean-hot-path targets: single events, one organization and 50, over the bare route in the same run. */
const VS_BARE = 0.15;

export async function run() {
  const duration = envInt('BENCH_DURATION', 10);
  const connections = envInt('BENCH_HOT_CONNECTIONS', 64);
  const spreadOrgs = envInt('BENCH_SPREAD_ORGS', 50);
  return withService(async ({ db, svc, sql }) => {
    const spread = await createOrganizations(svc.baseUrl, Array.from({ length: spreadOrgs }, (_, i) => `spread-${String(i).padStart(3, '0')}`));
    const [hot] = await createOrganizations(svc.baseUrl, ['hot-org']);
    await api(svc.baseUrl, 'POST', '/api/admin/organizations', { id: 'hot-capped', name: 'Hot capped', plan: 'starter', spendCap: 1 });
    await api(svc.baseUrl, 'POST', '/api/admin/organizations/hot-capped/credits', { amount: 2000, reason: 'bench top-up' });
    const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ eventType: 'visuals_planning', eventData: { complexity: 1 } });
    let i = 0;
    const requestsFor = (org) => [{ method: 'POST', headers, body, setupRequest: (req) => ({ ...req, path: `/api/organizations/${typeof org === 'function' ? org() : org}/usage/events` }) }];

    // Embedded: no SQL from outside the service, so no raw hot-row baseline (the bare route stays).
    const rawHotRow = EMBEDDED ? { what: 'raw hot-row UPDATE (not run: embedded database)', perS: null } : await hotRowUpdates(db.url, { clients: 8, seconds: Math.min(5, duration) });
    const bare = await measureBareRoute({ connections, duration, body });

    // Warm-up on other organizations (JIT, pools, partition), then the measured runs.
    await load({ url: svc.baseUrl, connections, duration: 2, requests: requestsFor(() => spread[i++ % spread.length]) });
    await sleep(1500);

    const rss = sampleRss(() => svc.pid);
    const scenarios = [
      { key: 'spread', title: `service, ${spread.length} orgs (no hot row)`, requests: requestsFor(() => spread[i++ % spread.length]), duration },
      { key: 'hot', title: `service, 1 org (${hot})`, org: hot, requests: requestsFor(hot), duration },
      { key: 'capped', title: 'service, 1 org with refusals (hot-capped)', org: 'hot-capped', requests: requestsFor('hot-capped'), duration: Math.min(5, duration) },
    ];
    const results = {};
    for (const s of scenarios) {
      rss.mark(s.key);
      const cpu = cpuMeter([svc.pid], backendPids(sql));
      const r = await load({ title: s.title, url: svc.baseUrl, connections, duration: s.duration, requests: s.requests });
      r.cpu = await cpu.end();
      r.rss = rss.summary(s.key);
      await sleep(1500); // requests in flight at the deadline finish
      if (s.org && sql) r.ledgerRows = Number((await sql.query(`SELECT count(*) AS n FROM usage_events WHERE organization_id = $1`, [s.org])).rows[0].n);
      results[s.key] = r;
    }
    const memory = rss.stop();

    const ledger = await checkLedger(sql);
    const hotR = results.hot;
    const capped = results.capped;
    const cappedState = !sql
      ? undefined
      : (
      await sql.query(
        `SELECT b.consumed::text, b.allowance_used::text, b.grants_used::text, b.overage_used::text, b.allowance::text,
                (SELECT sum(amount - remaining) FROM credit_grants g WHERE g.organization_id = b.organization_id)::text AS grants_taken
           FROM period_balances b WHERE b.organization_id = 'hot-capped'`,
      )
    ).rows[0];
    // The cap in credits: allowance 1,000 + top-up 2,000 + $1 / $0.02 = 50 overage credits.
    const cappedOk = Number(cappedState?.consumed ?? 0) <= 3050 && (capped.statusCodes['402'] ?? 0) > 0;
    const hotCountOk = ledger.skipped || (hotR.ledgerRows >= hotR.ok && hotR.ledgerRows <= hotR.ok + connections);
    const vsRaw = (perS) => (rawHotRow.perS ? round(perS / rawHotRow.perS, 3).toFixed(3) : '-');
    const vsBare = (perS) => round(perS / bare.perS, 3);
    // Embedded: the capped organization's state cannot be read; its 402s still show that it stopped.
    const spreadVsHot = round(results.spread.okPerS / hotR.okPerS, 3);
    // CPU per answered request: what the background load moves least (the target "service CPU per single
    // tracked event" row).
    const cpuMs = (r, cores) => round((cores * r.cpu.seconds * 1000) / Math.max(1, r.requests), 3);
    const svcCpuHot = cpuMs(hotR, hotR.cpu.serviceCores);
    const svcCpuSpread = cpuMs(results.spread, results.spread.cpu.serviceCores);
    const pgCpuHot = cpuMs(hotR, hotR.cpu.postgresCores);
    const pgCpuSpread = cpuMs(results.spread, results.spread.cpu.postgresCores);
    const ledgerOk = ledger.ok && hotCountOk && (ledger.skipped ? (capped.statusCodes['402'] ?? 0) > 0 : cappedOk);

    printTable(
      `Hot organization: ${connections} connections (accepted = 2xx; ratios over the raw hot-row UPDATE and over the bare Fastify route)`,
      [{ title: 'run' }, { title: 'accepted/s' }, { title: '402/s' }, { title: 'other errors' }, { title: 'p50 ms' }, { title: 'p99 ms' }, { title: 'vs raw row' }, { title: 'vs bare' }, { title: 'CPU ms/req svc/pg' }, { title: 'cores svc/pg/other' }, { title: 'RSS peak MB' }],
      [
        [rawHotRow.what, fmt(rawHotRow.perS), '-', '-', '-', '-', rawHotRow.perS ? '1.000' : '-', rawHotRow.perS ? vsBare(rawHotRow.perS).toFixed(3) : '-', '-', '-', '-'],
        [bare.what, fmt(bare.perS), '-', fmt(bare.result.non2xx + bare.result.errors), bare.result.latencyMs.p50, bare.result.latencyMs.p99, vsRaw(bare.perS), '1.000', '-', `${bare.result.cpu.serviceCores}/-/${bare.result.cpu.otherCores}`, '-'],
        ...scenarios.map((s) => {
          const r = results[s.key];
          const refused = r.statusCodes['402'] ?? 0;
          return [s.title, fmt(r.okPerS), fmt(refused / r.durationS), fmt(r.non2xx - refused + r.errors), r.latencyMs.p50, r.latencyMs.p99, vsRaw(r.okPerS), vsBare(r.okPerS).toFixed(3), cpuPerRequest(r), `${r.cpu.serviceCores}/${r.cpu.postgresCores}/${r.cpu.otherCores}`, r.rss.peakMb];
        }),
      ],
    );
    printTable('Checks and targets', [{ title: 'what' }, { title: 'measured' }, { title: 'target' }, { title: 'verdict' }], [
      ['hot org accepted events/s', fmt(hotR.okPerS), `>= ${fmt(TARGET)}`, verdict(hotR.okPerS >= TARGET)],
      ['single events, 1 org / bare Fastify route', vsBare(hotR.okPerS), `>= ${VS_BARE}`, verdict(vsBare(hotR.okPerS) >= VS_BARE)],
      [`single events, ${spread.length} orgs / bare Fastify route`, vsBare(results.spread.okPerS), `>= ${VS_BARE}`, verdict(vsBare(results.spread.okPerS) >= VS_BARE)],
      ['hot org / raw hot-row UPDATE', vsRaw(hotR.okPerS), '(information)', ''],
      [`single events, ${spread.length} orgs / 1 org (same run)`, spreadVsHot, '>= 0.9', verdict(spreadVsHot >= 0.9)],
      ['service CPU ms per single tracked event, 1 org / ' + spread.length + ' orgs', `${svcCpuHot} / ${svcCpuSpread}`, '<= 0.08', verdict(svcCpuHot <= 0.08 && svcCpuSpread <= 0.08)],
      ['PostgreSQL CPU ms per single tracked event, 1 org / ' + spread.length + ' orgs', `${pgCpuHot} / ${pgCpuSpread}`, '(information)', ''],
      ...(ledger.skipped
        ? [['ledger checks and row counts', 'not run (embedded database)', '', '']]
        : [
            ['hot org: 2xx counted / ledger rows', `${fmt(hotR.ok)} / ${fmt(hotR.ledgerRows)}`, `rows - 2xx in [0, ${connections}]`, hotCountOk ? 'ok' : 'VIOLATION'],
            ['capped org: credits consumed (allowance + top-up + cap)', `${cappedState?.consumed} (${cappedState?.allowance_used} + ${cappedState?.grants_used} + ${cappedState?.overage_used})`, '<= 3,050 and some 402', cappedOk ? 'ok' : 'VIOLATION'],
          ]),
      ...ledger.checks.map((c) => [c.name, c.ok ? 'holds' : JSON.stringify(c.rows.slice(0, 2)), 'holds', c.ok ? 'ok' : 'VIOLATION']),
      ['service RSS peak (MB)', memory.peakMb, '<= 300', verdict(memory.peakMb <= 300)],
    ]);

    const summary = {
      hotEventsPerS: hotR.okPerS,
      spreadEventsPerS: results.spread.okPerS,
      rawHotRowPerS: rawHotRow.perS,
      ratioVsRawRow: rawHotRow.perS ? round(hotR.okPerS / rawHotRow.perS, 3) : null,
      bareRps: bare.perS,
      hotVsBare: vsBare(hotR.okPerS),
      spreadVsBare: vsBare(results.spread.okPerS),
      spreadOrgs: spread.length,
      spreadVsHot,
      serviceCpuMsPerEvent: { hot: svcCpuHot, spread: svcCpuSpread },
      pgCpuMsPerEvent: { hot: pgCpuHot, spread: pgCpuSpread },
      latencyMs: { hot: hotR.latencyMs, spread: results.spread.latencyMs },
      rssPeakMb: memory.peakMb,
      ledgerOk,
      targets: { hotEventsPerS: hotR.okPerS >= TARGET, hotVsBare: vsBare(hotR.okPerS) >= VS_BARE, spreadVsBare: vsBare(results.spread.okPerS) >= VS_BARE, spreadVsHot: spreadVsHot >= 0.9, serviceCpu: svcCpuHot <= 0.08 && svcCpuSpread <= 0.08, rss: memory.peakMb <= 300 },
    };
    writeResults('hot-org', { config: { connections, duration, hotPlan: 'enterprise', cappedOrg: { plan: 'starter', topUp: 2000, spendCapUsd: 1 } }, baseline: rawHotRow, bare, results, cappedState, memory, ledger: ledger.checks, summary });
    return summary;
  });
}

/** Service and PostgreSQL CPU milliseconds per answered request (less sensitive to the machine's other load than req/s). */
export function cpuPerRequest(r) {
  const ms = (cores) => round((cores * r.cpu.seconds * 1000) / Math.max(1, r.requests), 2);
  return `${ms(r.cpu.serviceCores)}/${ms(r.cpu.postgresCores)}`;
}

runWhenMain(import.meta.url, run, (s) => s.ledgerOk);
