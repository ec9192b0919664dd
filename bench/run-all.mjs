// `npm run bench [-- <name> …]`: builds (npm does), then runs the benchmarks one after another, each on its own
// fresh database and service process, and prints one summary against the benchmark targets.
//
//   npm run bench                       overhead, hot-org, batch, latency, config, restart (about 5 minutes)
//   npm run bench -- hot-org batch      only those
//   npm run bench:volume                the volume benchmark (long: see bench/volume.mjs)
//   npm run drill:crash, npm run drill:overload
//
// Memory (benchmark 6) is the service's RSS sampled every 200 ms during overhead, hot-org and batch.
import { fmt, printTable, verdict, writeResults } from './lib/report.mjs';

const BENCHES = {
  overhead: () => import('./tracking-overhead.mjs'),
  'hot-org': () => import('./hot-org.mjs'),
  batch: () => import('./batch-ingest.mjs'),
  config: () => import('./config-cache.mjs'),
  volume: () => import('./volume.mjs'),
  crash: () => import('./drill-crash.mjs'),
  overload: () => import('./drill-overload.mjs'),
  ingest: () => import('./ingest.mjs'),
  'ingest-loss': () => import('./drill-ingest-loss.mjs'),
  // Not in the default set: a few minutes of streams (npm run bench -- streaming).
  streaming: () => import('./streaming.mjs'),
  restart: () => import('./restart.mjs'),
  latency: () => import('./latency.mjs'),
};
const DEFAULT = ['overhead', 'hot-org', 'batch', 'latency', 'config', 'restart'];

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DEFAULT;
for (const name of names) if (!BENCHES[name]) throw new Error(`unknown benchmark "${name}": one of ${Object.keys(BENCHES).join(', ')}`);

const started = Date.now();
const summaries = {};
let failed = false;
for (const name of names) {
  console.log(`\n${'='.repeat(100)}\n== ${name}\n${'='.repeat(100)}`);
  try {
    summaries[name] = await (await BENCHES[name]()).run();
    if (summaries[name].ledgerOk === false || summaries[name].ok === false) failed = true;
  } catch (error) {
    failed = true;
    summaries[name] = { error: String(error?.stack ?? error) };
    console.error(error);
  }
}

const s = summaries;
const rows = [];
const row = (what, measured, target, reached) => rows.push([what, measured, target, reached === undefined ? '' : verdict(reached)]);
if (s.overhead && !s.overhead.error) {
  row(`1. tracked / untracked throughput (baseline ${s.overhead.baselineRoute})`, s.overhead.ratio, '>= 0.3', s.overhead.targets.ratio);
  row('   tracked req/s, untracked req/s', `${fmt(s.overhead.trackedRps)}, ${fmt(s.overhead.untrackedRps)}`, '', undefined);
  row('   tracked / bare Fastify route (same run), bare req/s', `${s.overhead.ratioVsBare}, ${fmt(s.overhead.bareRps)}`, '', undefined);
}
if (s['hot-org'] && !s['hot-org'].error) {
  const h = s['hot-org'];
  row('2. hot organization, accepted events/s', fmt(h.hotEventsPerS), '>= 10,000', h.targets.hotEventsPerS);
  row('   raw hot-row UPDATE/s (same run), ratio', `${fmt(h.rawHotRowPerS)}, ${h.ratioVsRawRow ?? '-'}`, '', undefined);
  row('   single events, 1 org / bare Fastify route', `${h.hotVsBare} (bare ${fmt(h.bareRps)} req/s)`, '>= 0.15', h.targets.hotVsBare);
  row(`   single events, ${h.spreadOrgs} orgs / bare Fastify route`, h.spreadVsBare, '>= 0.15', h.targets.spreadVsBare);
  row(`   single events, ${h.spreadOrgs} orgs / 1 org`, h.spreadVsHot, '>= 0.9', h.targets.spreadVsHot);
  row(`   service CPU ms per single tracked event (1 org / ${h.spreadOrgs} orgs)`, `${h.serviceCpuMsPerEvent.hot} / ${h.serviceCpuMsPerEvent.spread}`, '<= 0.08', h.targets.serviceCpu);
  row(`   PostgreSQL CPU ms per single tracked event (1 org / ${h.spreadOrgs} orgs)`, `${h.pgCpuMsPerEvent.hot ?? '-'} / ${h.pgCpuMsPerEvent.spread ?? '-'}`, '', undefined);
}
if (s.batch && !s.batch.error) {
  row('3. batch ingestion, events/s', fmt(s.batch.eventsPerS), '>= 100,000', s.batch.targets.eventsPerS);
  row('   raw unnest INSERT rows/s (same run), ratio', `${fmt(s.batch.rawRowsPerS)}, ${s.batch.ratioVsRaw ?? '-'}`, '', undefined);
  row('   events/s over the bare route\'s req/s', `${s.batch.ratioVsBare} (bare ${fmt(s.batch.bareRps)} req/s)`, '>= 1.5', s.batch.targets.vsBare);
  row('   batch p99 ms', s.batch.batchP99Ms, '<= 300', s.batch.targets.p99);
  row('   PostgreSQL CPU ms per batched event (service)', `${s.batch.pgCpuMsPerEvent ?? '-'} (${s.batch.serviceCpuMsPerEvent})`, '<= 0.015', s.batch.targets.pgCpu);
}
if (s.latency && !s.latency.error) {
  for (const [key, t] of Object.entries(s.latency.targetRows)) {
    const [route, rate] = key.split('@');
    row(`   latency at ${rate} req/s, ${route === 'api' ? 'tracking API' : '@TrackUsage'}: p50 / p99 ms (bare ${t.bareP50} / ${t.bareP99})`, `${t.p50} / ${t.p99}`, '<= 2 / <= 10', t.ok);
  }
}
if (s.volume && !s.volume.error) {
  row('4. period close, events/s', fmt(s.volume.closeEventsPerS), '>= 1,000,000', s.volume.targets.close);
  row('   worst analytics p99 (ms)', s.volume.worstP99Ms, '<= 50', s.volume.targets.analyticsP99);
}
if (s.config && !s.config.error) {
  row('5. cached definition lookups/s', fmt(s.config.lookupsPerS), '>= 1,000,000', s.config.targets.lookups);
  row("   change served by another instance, p99 ms after A's answer", s.config.propagationP99Ms, '<= 100', s.config.targets.propagation);
}
const rss = ['overhead', 'hot-org', 'batch'].filter((n) => s[n] && !s[n].error).map((n) => s[n].rssPeakMb);
if (rss.length > 0) row('6. service RSS peak during 1-3 (MB)', Math.max(...rss), '<= 300', Math.max(...rss) <= 300);
if (s.ingest && !s.ingest.error) {
  row('9. async single calls accepted / bare Fastify route', `${s.ingest.acceptVsBare} (${fmt(s.ingest.acceptedPerS)}/s, bare ${fmt(s.ingest.bareRps)} req/s)`, '>= 0.25', s.ingest.targets.acceptVsBare);
  row('   drained events/s (ratio to raw unnest INSERT)', `${fmt(s.ingest.drainPerS)} (${s.ingest.drainVsRaw})`, '>= 50,000', s.ingest.targets.drainPerS);
  row('   lag p99 ms at half the drain rate', s.ingest.lagP99Ms, '<= 1,000', s.ingest.targets.lagP99);
}
if (s.restart && !s.restart.error) row('11. npm start to /health on the embedded database, slowest restart ms', `${fmt(s.restart.restartMaxMs)} (median ${fmt(s.restart.restartMedianMs)}, first start ${fmt(s.restart.firstStartMs)})`, '<= 3,000', s.restart.targets.restart);
if (s['ingest-loss'] && !s['ingest-loss'].error) row('10. ingest loss drill (SIGKILL mid-stream)', s['ingest-loss'].ok ? 'PASS' : 'FAIL', 'PASS', s['ingest-loss'].ok);
if (s.streaming && !s.streaming.error) {
  row('12. streamed call: service CPU ms per chunk, per extension', `${s.streaming.perChunkServiceMs}, ${s.streaming.perExtensionServiceMs}`, '(information)', undefined);
  row('    service CPU ms of a plain call (same run)', s.streaming.plainServiceMs, '', undefined);
}
for (const n of ['crash', 'overload']) if (s[n] && !s[n].error) row(n === 'crash' ? '7. crash drill' : '8. overload drill', s[n].ok ? 'PASS' : 'FAIL', 'PASS', s[n].ok);
for (const [n, v] of Object.entries(s)) if (v.error) row(`${n}: did not complete`, v.error.split('\n')[0].slice(0, 80), '', false);

printTable(`Summary (${Math.round((Date.now() - started) / 1000)} s; noisy shared 2-core machine: compare the ratios)`, [{ title: 'benchmark' }, { title: 'measured' }, { title: 'target' }, { title: 'verdict' }], rows);
writeResults('bench-summary', { benchmarks: names, summaries });
// Targets missed are findings, not failures; a broken ledger or a crash of the harness is a failure.
process.exit(failed ? 1 : 0);
