// Drill 8: overload. `npm run drill:overload`
//
//  1. sustainable load: synchronous tracking (POST …/usage/events over 100 organizations), 50 connections,
//     10 s: its throughput S (measured in the same run: the machine's other load moves it);
//  2. overload: 10 x S offered for BENCH_OVERLOAD_S=30 s (autocannon overallRate, BENCH_OVERLOAD_CONNECTIONS
//     =2000 connections, 10 s client timeout: a timed-out request is abandoned by the client but not by the
//     server). RSS sampled every 200 ms, GET /health probed every second;
//  3. recovery: the time until GET /health answers 200 within a second and a normal tracked request succeeds.
// Expected: the service sheds what it cannot serve (429 or 503, quickly) instead of queueing it, its memory
// stays bounded, and it recovers; the ledger holds throughout. Rate limiting is off (RATE_LIMIT_*=0): this is
// about capacity, not quotas. Exits 1 when it does not shed load, does not recover or the ledger breaks.
import { ADMIN_HEADERS, createOrganizations, load, percentiles, round } from './lib/http.mjs';
import { backendPids, checkLedger } from './lib/ledger.mjs';
import { fmt, printTable, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, cpuMeter, envInt, runWhenMain, rssMb, sampleRss, sleep, withService } from './lib/service.mjs';

export async function run() {
  const overloadS = envInt('BENCH_OVERLOAD_S', 30);
  const connections = envInt('BENCH_OVERLOAD_CONNECTIONS', 2000);
  return withService(async ({ svc, sql }) => {
    const orgs = await createOrganizations(svc.baseUrl, Array.from({ length: 100 }, (_, i) => `ovl-${String(i).padStart(3, '0')}`));
    const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
    let i = 0;
    const requests = [{ method: 'POST', headers, body: JSON.stringify({ eventType: 'visuals_planning' }), setupRequest: (req) => ({ ...req, path: `/api/organizations/${orgs[i++ % orgs.length]}/usage/events` }) }];

    await load({ url: svc.baseUrl, connections: 50, duration: 2, requests });
    const rssIdle = rssMb(svc.pid);
    const sustainable = await load({ title: 'sustainable', url: svc.baseUrl, connections: 50, duration: 10, requests });
    const rate = Math.max(50, Math.round(sustainable.okPerS * 10));
    console.log(`sustainable: ${fmt(sustainable.okPerS)} tracked req/s (p99 ${sustainable.latencyMs.p99} ms); offering ${fmt(rate)} req/s for ${overloadS} s over ${fmt(connections)} connections`);

    // Health, probed once a second throughout (a fresh connection each time, like a load balancer).
    const probes = [];
    let probing = true;
    const t0 = Date.now();
    const prober = (async () => {
      while (probing) {
        const started = performance.now();
        let status;
        try {
          status = (await fetch(`${svc.baseUrl}/health`, { signal: AbortSignal.timeout(5000) })).status;
        } catch (e) {
          status = e.name === 'TimeoutError' ? 'timeout' : 'error';
        }
        probes.push({ t: Date.now() - t0, status, ms: round(performance.now() - started, 1) });
        await sleep(1000);
      }
    })();

    const rss = sampleRss(() => svc.pid);
    rss.mark('overload');
    const cpu = cpuMeter([svc.pid], backendPids(sql));
    const overload = await load({ title: 'overload', url: svc.baseUrl, connections, duration: overloadS, overallRate: rate, timeout: 10, requests });
    overload.cpu = await cpu.end();
    const loadEndedAt = Date.now() - t0;

    // Recovery: health 200 within 1 s and a normal tracked request answered 201.
    rss.mark('recovery');
    let recoveredAfterMs = null;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      try {
        const h = await fetch(`${svc.baseUrl}/health`, { signal: AbortSignal.timeout(1000) });
        const t = await fetch(`${svc.baseUrl}/api/organizations/${orgs[0]}/usage/events`, { method: 'POST', headers: ADMIN_HEADERS, body: JSON.stringify({ eventType: 'visuals_planning' }), signal: AbortSignal.timeout(1000) });
        if (h.status === 200 && t.status === 201) {
          recoveredAfterMs = Date.now() - t0 - loadEndedAt;
          break;
        }
      } catch {
        // not yet
      }
      await sleep(250);
    }
    await sleep(5000);
    probing = false;
    await prober;
    const memory = rss.stop();
    const overloadRss = rss.summary('overload');
    const rssAfter = rssMb(svc.pid);
    const after = await load({ title: 'after', url: svc.baseUrl, connections: 50, duration: 5, requests });
    await sleep(2000);
    const ledger = await checkLedger(sql);

    const shed = (overload.statusCodes['429'] ?? 0) + (overload.statusCodes['503'] ?? 0);
    const duringProbes = probes.filter((p) => p.t <= loadEndedAt);
    const probeOk = duringProbes.filter((p) => p.status === 200).length;
    // Memory still climbing in the last third of the overload: the queue was still growing.
    const tail = rss.samples.filter((s) => s.label === 'overload');
    const third = Math.floor(tail.length / 3);
    const slope = third > 1 ? round((tail[tail.length - 1].mb - tail[tail.length - third].mb) / ((tail[tail.length - 1].t - tail[tail.length - third].t) / 1000), 2) : null;

    printTable(
      'Overload drill',
      [{ title: 'phase' }, { title: 'offered/s' }, { title: '2xx/s' }, { title: '429+503' }, { title: 'other non-2xx' }, { title: 'timeouts/errors' }, { title: 'p50 ms' }, { title: 'p99 ms' }, { title: 'RSS MB' }],
      [
        ['sustainable (50 conns, 10 s)', '-', fmt(sustainable.okPerS), sustainable.statusCodes['429'] ?? 0, sustainable.non2xx, sustainable.errors, sustainable.latencyMs.p50, sustainable.latencyMs.p99, round(rssIdle, 0)],
        [`overload (${fmt(connections)} conns, ${overloadS} s)`, fmt(rate), fmt(overload.okPerS), fmt(shed), fmt(overload.non2xx - shed), `${fmt(overload.timeouts)}/${fmt(overload.errors)}`, overload.latencyMs.p50, overload.latencyMs.p99, `peak ${overloadRss.peakMb}`],
        ['after recovery (50 conns, 5 s)', '-', fmt(after.okPerS), (after.statusCodes['429'] ?? 0) + (after.statusCodes['503'] ?? 0), after.non2xx, after.errors, after.latencyMs.p50, after.latencyMs.p99, round(rssAfter, 0)],
      ],
    );
    const verdicts = [
      ['sheds load (429/503) instead of queueing', shed > 0 ? `yes: ${fmt(shed)} answers` : 'NO: nothing was shed', shed > 0],
      ['memory bounded (peak <= 300 MB, not climbing at the end)', `peak ${overloadRss.peakMb} MB, last-third slope ${slope} MB/s`, overloadRss.peakMb <= 300 && (slope ?? 0) < 1],
      ['health answered during overload', `${probeOk}/${duringProbes.length} probes 200 (p99 ${percentiles(duringProbes.map((p) => p.ms)).p99} ms)`, probeOk === duringProbes.length],
      ['recovers (health 200 < 1 s and a tracked request succeeds)', recoveredAfterMs === null ? 'NO within 120 s' : `${fmt(recoveredAfterMs)} ms after the load stopped`, recoveredAfterMs !== null],
      ['ledger consistent afterwards', ledger.ok ? 'every check holds' : ledger.checks.filter((c) => !c.ok).map((c) => c.name).join('; '), ledger.ok],
    ];
    printTable('Verdict', [{ title: 'expectation' }, { title: 'observed' }, { title: 'verdict' }], verdicts.map(([a, b, ok]) => [a, b, ok ? 'ok' : 'FAIL']));
    const ok = shed > 0 && recoveredAfterMs !== null && ledger.ok;
    writeResults('drill-overload', { config: { overloadS, connections, offeredPerS: rate }, sustainable, overload, after, probes, rss: { idleMb: rssIdle, overload: overloadRss, afterMb: rssAfter, slopeLastThirdMbPerS: slope, all: memory }, rssSamples: rss.samples, recoveredAfterMs, ledger: ledger.checks, verdicts: verdicts.map(([what, observed, pass]) => ({ what, observed, pass })), verdict: ok ? 'PASS' : 'FAIL' });
    return { ok, shed, recoveredAfterMs, peakMb: overloadRss.peakMb };
  });
}

runWhenMain(import.meta.url, run);
