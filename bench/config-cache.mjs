// Benchmark 5: configuration. (a) the cost of a cached definition lookup, in process; (b) how long a change
// made through instance A takes to be served by instance B (two processes on one database).
//
//   node bench/config-cache.mjs        (or: npm run bench -- config)
//
// (a) builds the app in this process exactly as main.ts does (createApp from dist/src/app.setup.js with
//     loadConfig from dist/src/config/app-config.js), takes its EventRegistry and calls registry.get() over
//     the 15 seeded event types, BENCH_LOOKUPS=5,000,000 times, 5 rounds (median). Baseline in the same run:
//     Map.get over the same records. Target >= 1,000,000 lookups/s.
// (b) BENCH_CHANGES=50 times: PATCH /api/admin/events/visuals_planning on A, then poll GET of the same on B
//     until the new version shows. Latency = B serving it minus A's answer (the change is committed then:
//     the target, p99 <= 100 ms), and from the PATCH being sent (includes A's own write). Baseline: raw
//     NOTIFY -> LISTEN latency on the same server. The resolution is one GET on B (a few ms).
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { api, percentiles, round } from './lib/http.mjs';
import { notifyLatency } from './lib/pg-baselines.mjs';
import { fmt, printTable, verdict, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, envInt, runWhenMain, ROOT, serviceEnv, sleep, withService } from './lib/service.mjs';

const LOOKUP_TARGET = 1_000_000;
const PROPAGATION_TARGET_MS = 100;

async function lookupCost(databaseUrl, lookups) {
  const require = createRequire(import.meta.url);
  const dist = resolve(ROOT, process.env.BENCH_DIST ?? 'dist');
  const { createApp } = require(join(dist, 'src', 'app.setup.js'));
  const { loadConfig } = require(join(dist, 'src', 'config', 'app-config.js'));
  const { EventRegistry } = require(join(dist, 'src', 'modules', 'events', 'event-registry.service.js'));
  const app = await createApp({ config: loadConfig({ ...serviceEnv(databaseUrl), LOG_LEVEL: 'silent' }) });
  try {
    const registry = app.get(EventRegistry);
    const keys = registry.list(true).map((r) => r.key);
    if (keys.length === 0) throw new Error('the registry is empty: was the seed loaded?');
    const plain = new Map(keys.map((k) => [k, registry.get(k)]));
    const measure = (lookup) => {
      const rounds = [];
      let sink = 0;
      for (let round = 0; round < 5; round++) {
        const t0 = performance.now();
        for (let i = 0; i < lookups; i++) sink += lookup(keys[i % keys.length]).version;
        rounds.push(lookups / ((performance.now() - t0) / 1000));
      }
      if (sink === -1) console.log(sink); // keeps the loop from being optimized away
      rounds.sort((a, b) => a - b);
      return { median: Math.round(rounds[2]), min: Math.round(rounds[0]), max: Math.round(rounds[4]) };
    };
    measure((k) => registry.get(k)); // warm-up (JIT)
    const map = measure((k) => plain.get(k));
    const get = measure((k) => registry.get(k));
    // The async path the tracker uses (find(): get(), else the shared store, else the database).
    const t0 = performance.now();
    const asyncN = Math.min(lookups, 1_000_000);
    for (let i = 0; i < asyncN; i++) await registry.find(keys[i % keys.length]);
    const find = Math.round(asyncN / ((performance.now() - t0) / 1000));
    return { keys: keys.length, lookups, mapGet: map, registryGet: get, registryFindAwait: find };
  } finally {
    await app.close();
  }
}

async function propagation(a, b, changes) {
  const path = '/api/admin/events/visuals_planning';
  const headers = { authorization: `Bearer ${ADMIN_KEY}` };
  const afterCommit = [];
  const total = [];
  const polls = [];
  const original = (await api(a.baseUrl, 'GET', path)).body;
  for (let k = 0; k < changes; k++) {
    const t0 = performance.now();
    const written = await api(a.baseUrl, 'PATCH', path, { baseCredits: 100 + k });
    const tA = performance.now();
    const version = written.body.version;
    let n = 0;
    for (;;) {
      n++;
      const res = await fetch(b.baseUrl + path, { headers });
      const seen = await res.json();
      if (seen.version >= version) break;
      if (performance.now() - tA > 10_000) throw new Error(`instance B still serves version ${seen.version} 10 s after version ${version} was written`);
    }
    const tB = performance.now();
    afterCommit.push(tB - tA);
    total.push(tB - t0);
    polls.push(n);
    await sleep(20 + Math.random() * 30);
  }
  await api(a.baseUrl, 'PATCH', path, { baseCredits: original.baseCredits });
  return { afterCommit: percentiles(afterCommit), fromRequest: percentiles(total), pollsPerChange: percentiles(polls), samples: { afterCommit: afterCommit.map((v) => round(v)), fromRequest: total.map((v) => round(v)) } };
}

export async function run() {
  const lookups = envInt('BENCH_LOOKUPS', 5_000_000);
  const changes = envInt('BENCH_CHANGES', 50);
  return withService(
    async ({ db, services: [a, b] }) => {
      const cost = await lookupCost(db.url, lookups);
      const notify = percentiles(await notifyLatency(db.url, { samples: changes }));
      const spread = await propagation(a, b, changes);

      printTable(
        `Cached definition lookups (${fmt(cost.keys)} event types, ${fmt(lookups)} lookups a round, median of 5 rounds)`,
        [{ title: 'lookup' }, { title: 'lookups/s' }, { title: 'min' }, { title: 'max' }, { title: 'vs Map.get' }],
        [
          ['Map.get (baseline)', fmt(cost.mapGet.median), fmt(cost.mapGet.min), fmt(cost.mapGet.max), '1.000'],
          ['EventRegistry.get()', fmt(cost.registryGet.median), fmt(cost.registryGet.min), fmt(cost.registryGet.max), round(cost.registryGet.median / cost.mapGet.median, 3).toFixed(3)],
          ['await EventRegistry.find() (hit)', fmt(cost.registryFindAwait), '-', '-', round(cost.registryFindAwait / cost.mapGet.median, 3).toFixed(3)],
        ],
      );
      printTable(
        `A change through instance A served by instance B (${changes} changes, PostgreSQL LISTEN/NOTIFY)`,
        [{ title: 'measure' }, { title: 'p50 ms' }, { title: 'p90 ms' }, { title: 'p99 ms' }, { title: 'max ms' }],
        [
          ['raw NOTIFY -> LISTEN (baseline)', notify.p50, notify.p90, notify.p99, notify.max],
          ["B serves it, after A's answer", spread.afterCommit.p50, spread.afterCommit.p90, spread.afterCommit.p99, spread.afterCommit.max],
          ['B serves it, from the PATCH sent', spread.fromRequest.p50, spread.fromRequest.p90, spread.fromRequest.p99, spread.fromRequest.max],
          ['(polls of B per change)', spread.pollsPerChange.p50, spread.pollsPerChange.p90, spread.pollsPerChange.p99, spread.pollsPerChange.max],
        ],
      );
      printTable('Targets', [{ title: 'what' }, { title: 'measured' }, { title: 'target' }, { title: 'verdict' }], [
        ['EventRegistry.get() lookups/s', fmt(cost.registryGet.median), `>= ${fmt(LOOKUP_TARGET)}`, verdict(cost.registryGet.median >= LOOKUP_TARGET)],
        ["change served by B, p99 after A's answer (ms)", spread.afterCommit.p99, `<= ${PROPAGATION_TARGET_MS}`, verdict(spread.afterCommit.p99 <= PROPAGATION_TARGET_MS)],
        ['the same from the PATCH sent (includes the write on A)', spread.fromRequest.p99, '(information)', ''],
      ]);
      const summary = {
        lookupsPerS: cost.registryGet.median,
        mapGetPerS: cost.mapGet.median,
        propagationP50Ms: spread.afterCommit.p50,
        propagationP99Ms: spread.afterCommit.p99,
        fromRequestP99Ms: spread.fromRequest.p99,
        notifyP99Ms: notify.p99,
        targets: { lookups: cost.registryGet.median >= LOOKUP_TARGET, propagation: spread.afterCommit.p99 <= PROPAGATION_TARGET_MS },
      };
      writeResults('config-cache', { config: { lookups, changes, transport: 'postgres LISTEN/NOTIFY (no REDIS_URL)' }, lookup: cost, notifyBaseline: notify, propagation: spread, summary });
      return summary;
    },
    { instances: 2 },
  );
}

runWhenMain(import.meta.url, run, () => true);
