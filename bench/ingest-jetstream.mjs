// The JetStream ingest queue on its own (no service, no ledger): what the store in front of the ledger takes.
//
//   npm run build && node bench/ingest-jetstream.mjs        (or: npm run bench -- jetstream)
//
// Runs the compiled adapter (dist/src/modules/ingest/jetstream-ingest-queue.js) against nats-server processes of
// its own: one node (R1) and a three-node cluster on this machine (R3). For each:
//   - single appends: BENCH_JS_CONNECTIONS=64 concurrent callers, each appending one event at a time (one
//     asynchronous single call = one publish and its acknowledgement) for BENCH_DURATION=5 s;
//   - batched appends: 8 callers appending 100 events a call;
//   - drain: two drainers (another connection, as another instance) claim up to 1,000 and ack, until the
//     stream is empty: claim+ack events/s (the ledger write is the drainer's, not measured here);
//   - lag at half the drain rate: events published open-loop (batches of up to 100 every 10 ms) at half the
//     measured drain rate (or half the batched append rate when appending is the slower side) while the
//     drainers run; the lag of an event is its claim time minus its enqueue time: p50/p99/max.
// BENCH_JS_LAG_RATE sets the lag run's rate instead; BENCH_JS_CLUSTER=0 skips the cluster.
// Targets (issue: durable asynchronous ingestion): drained events/s >= 50,000; lag p99 <= 1 s at half the drain
// rate. Accepted-per-second against the bare route is the service-level figure of the drainer's benchmark.
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { percentiles, round } from './lib/http.mjs';
import { natsServerBinary, natsServerVersion, startNatsCluster, startNatsNode } from './lib/nats.mjs';
import { fmt, printTable, verdict, writeResults } from './lib/report.mjs';
import { backgroundLoad, cpuMeter, envInt, runWhenMain, ROOT, runContext, sleep } from './lib/service.mjs';

const DRAIN_TARGET = 50_000;
const LAG_P99_TARGET_MS = 1_000;

function loadAdapter() {
  const require = createRequire(import.meta.url);
  const path = join(ROOT, process.env.BENCH_DIST ?? 'dist', 'src', 'modules', 'ingest', 'jetstream-ingest-queue.js');
  try {
    return require(path);
  } catch (error) {
    throw new Error(`${path} could not be loaded (run "npm run build" first): ${error.message}`, { cause: error });
  }
}

let counter = 0;
function event(org) {
  counter += 1;
  const idempotencyKey = `bench-${process.pid}-${counter}`;
  return {
    id: `${org}:${idempotencyKey}`,
    input: {
      organizationId: org,
      eventType: 'visuals_planning',
      eventData: { complexity: 1.5 },
      userId: `user-${counter % 10}`,
      idempotencyKey,
      context: { endpoint: 'POST /api/plan', ip: '10.0.0.1', apiKeyId: 'key_0123456789' },
    },
    enqueuedAt: new Date().toISOString(),
  };
}
const ORGS = Array.from({ length: 16 }, (_, i) => `org-${String(i).padStart(2, '0')}`);

async function appendLoop(queue, { callers, perCall, seconds }) {
  const latencies = [];
  let events = 0;
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      let n = c;
      while (performance.now() < deadline) {
        const batch = Array.from({ length: perCall }, () => event(ORGS[n++ % ORGS.length]));
        const started = performance.now();
        try {
          await queue.append(batch);
          events += perCall;
          latencies.push(performance.now() - started);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  return { callers, perCall, elapsedS: round(elapsedS, 2), events, calls: latencies.length, errors, callsPerS: round(latencies.length / elapsedS, 0), eventsPerS: round(events / elapsedS, 0), latencyMs: percentiles(latencies) };
}

/** Drainers claim and ack until `stop()` says so; `onClaim` sees every claimed message with its claim time. */
function startDrainers(queue, { drainers = 2, max = 1000, onClaim = () => undefined } = {}) {
  let running = true;
  let drained = 0;
  let emptyClaims = 0;
  const loops = Array.from({ length: drainers }, async () => {
    while (running) {
      const batch = await queue.claim(max).catch(() => null);
      if (!batch) {
        emptyClaims++;
        await sleep(5);
        continue;
      }
      const now = Date.now();
      for (const m of batch.messages) onClaim(m, now);
      await batch.ack();
      drained += batch.messages.length;
    }
  });
  return {
    drained: () => drained,
    emptyClaims: () => emptyClaims,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function drainAll(queue, drainerQueue) {
  const waiting = (await queue.lag()).waiting;
  const t0 = performance.now();
  const d = startDrainers(drainerQueue);
  while ((await queue.lag()).waiting > 0) await sleep(20);
  const elapsedS = (performance.now() - t0) / 1000;
  await d.stop();
  return { events: d.drained(), waitingBefore: waiting, elapsedS: round(elapsedS, 2), eventsPerS: round(d.drained() / elapsedS, 0) };
}

async function lagAtRate(queue, drainerQueue, { ratePerS, seconds }) {
  const lags = [];
  const d = startDrainers(drainerQueue, { onClaim: (m, now) => lags.push(now - Date.parse(m.enqueuedAt)) });
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((ratePerS * tickMs) / 1000));
  const t0 = performance.now();
  let published = 0;
  let errors = 0;
  const inflight = new Set();
  // Open loop: every tick publishes its share whatever the previous ticks' state (a slow queue shows as lag).
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * ratePerS) - published;
    for (let sent = 0; sent < due; sent += 100) {
      const n = Math.min(100, due - sent);
      const p = queue.append(Array.from({ length: n }, () => event(ORGS[published % ORGS.length]))).catch(() => errors++);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      published += n;
    }
    await sleep(Math.max(1, tickMs - ((performance.now() - t0) % tickMs)));
  }
  await Promise.all(inflight);
  while ((await queue.lag()).waiting > 0) await sleep(20);
  await d.stop();
  return { ratePerS, perTick, seconds, published, errors, claimed: lags.length, lagMs: percentiles(lags) };
}

/**
 * Runs `work` under a CPU meter of the nats-server processes and this process (the adapter's client side):
 * on a machine other work shares, CPU per event says more than events/s (events per core-second = what one
 * free core would take, NATS and client together).
 */
async function withCpu(natsPids, work, events) {
  const meter = cpuMeter(natsPids);
  const result = await work();
  const cpu = await meter.end();
  const count = events(result);
  const coreSeconds = (cpu.serviceCores + cpu.loadgenCores) * cpu.seconds;
  return {
    ...result,
    cpu: { natsCores: cpu.serviceCores, clientCores: cpu.loadgenCores, otherCores: cpu.otherCores, seconds: cpu.seconds },
    cpuUsPerEvent: { nats: round((cpu.serviceCores * cpu.seconds * 1e6) / Math.max(1, count), 1), client: round((cpu.loadgenCores * cpu.seconds * 1e6) / Math.max(1, count), 1) },
    eventsPerCoreSecond: coreSeconds > 0 ? round(count / coreSeconds, 0) : null,
  };
}

async function measure(label, servers, replicas, natsPids, { seconds, callers }) {
  const { JetStreamIngestQueue, JETSTREAM_INGEST_DEFAULTS } = loadAdapter();
  const stream = `BENCH_${Math.random().toString(36).slice(2, 8).toUpperCase()}`;
  const options = {
    ...JETSTREAM_INGEST_DEFAULTS,
    servers,
    stream,
    subjectPrefix: `bench.${stream}`,
    replicas,
    maxMessages: 50_000_000,
    maxBytes: 8 * 1024 ** 3,
    maxAgeSeconds: 0,
    maxAckPending: 20_000,
    requestTimeoutMs: 10_000,
  };
  const queue = await JetStreamIngestQueue.connect({ ...options, connectionName: 'bench-appender' });
  const drainerQueue = await JetStreamIngestQueue.connect({ ...options, connectionName: 'bench-drainer' });
  try {
    await appendLoop(queue, { callers: 8, perCall: 10, seconds: 1 }); // warm-up
    await drainAll(queue, drainerQueue);
    const single = await withCpu(natsPids, () => appendLoop(queue, { callers, perCall: 1, seconds }), (r) => r.events);
    const batched = await withCpu(natsPids, () => appendLoop(queue, { callers: 8, perCall: 100, seconds }), (r) => r.events);
    const drain = await withCpu(natsPids, () => drainAll(queue, drainerQueue), (r) => r.events);
    // Half the drain rate, unless appending is the slower side: then half of what appends take (an offered
    // rate the publisher cannot reach would measure its own backlog, not the queue's lag).
    const capacity = Math.min(drain.eventsPerS, batched.eventsPerS);
    const lag = await lagAtRate(queue, drainerQueue, { ratePerS: envInt('BENCH_JS_LAG_RATE', Math.round(capacity / 2)), seconds });
    return { label, replicas, servers: servers.length, single, batched, drain, lag };
  } finally {
    await queue.close();
    await drainerQueue.close();
  }
}

export async function run() {
  if (!natsServerBinary()) throw new Error('nats-server is not installed (Debian: apt-get install nats-server)');
  const seconds = envInt('BENCH_DURATION', 5);
  const callers = envInt('BENCH_JS_CONNECTIONS', 64);
  runContext.backgroundBusyCores = await backgroundLoad();
  runContext.natsServer = natsServerVersion();
  console.log(`machine busy before the run: ${runContext.backgroundBusyCores} of ${cpus().length} cores; ${runContext.natsServer}`);

  const results = [];
  const node = await startNatsNode();
  try {
    results.push(await measure('one node, R1', [node.url], 1, [node.pid], { seconds, callers }));
  } finally {
    await node.stop();
  }
  if (process.env.BENCH_JS_CLUSTER !== '0') {
    const cluster = await startNatsCluster(3);
    try {
      results.push(await measure('three-node cluster, R3', cluster.urls, 3, cluster.pids, { seconds, callers }));
    } finally {
      await cluster.stop();
    }
  }

  printTable(
    `JetStream ingest queue: appends (${callers} single callers / 8 callers of 100), claim(1000)+ack by 2 drainers, ${seconds} s each`,
    [
      { title: 'run' },
      { title: 'single appends/s' },
      { title: 'single p50/p99 ms' },
      { title: 'batched events/s' },
      { title: 'batch p50/p99 ms' },
      { title: 'drained events/s' },
      { title: 'lag run: rate/s' },
      { title: 'lag p50/p99/max ms' },
      { title: 'errors' },
    ],
    results.map((r) => [
      r.label,
      fmt(r.single.eventsPerS),
      `${r.single.latencyMs.p50}/${r.single.latencyMs.p99}`,
      fmt(r.batched.eventsPerS),
      `${r.batched.latencyMs.p50}/${r.batched.latencyMs.p99}`,
      fmt(r.drain.eventsPerS),
      fmt(r.lag.ratePerS),
      `${r.lag.lagMs.p50}/${r.lag.lagMs.p99}/${r.lag.lagMs.max}`,
      r.single.errors + r.batched.errors + r.lag.errors,
    ]),
  );
  printTable(
    'CPU per event (nats-server processes / this process), and events per core-second (both together): what a free core takes',
    [{ title: 'run' }, { title: 'phase' }, { title: 'events/s' }, { title: 'CPU µs/event nats/client' }, { title: 'events per core-second' }, { title: 'cores nats/client/other' }],
    results.flatMap((r) =>
      [
        ['single appends', r.single],
        ['batched appends', r.batched],
        ['claim+ack', r.drain],
      ].map(([phase, x]) => [r.label, phase, fmt(x.eventsPerS), `${x.cpuUsPerEvent.nats}/${x.cpuUsPerEvent.client}`, fmt(x.eventsPerCoreSecond), `${x.cpu.natsCores}/${x.cpu.clientCores}/${x.cpu.otherCores}`]),
    ),
  );
  printTable(
    'Targets',
    [{ title: 'what' }, { title: 'measured' }, { title: 'target' }, { title: 'verdict' }],
    results.flatMap((r) => [
      [`${r.label}: drained events/s (claim+ack, no ledger)`, fmt(r.drain.eventsPerS), `>= ${fmt(DRAIN_TARGET)}`, verdict(r.drain.eventsPerS >= DRAIN_TARGET)],
      [`${r.label}: lag p99 at half the drain rate`, `${r.lag.lagMs.p99} ms`, `<= ${LAG_P99_TARGET_MS} ms`, verdict(r.lag.lagMs.p99 !== null && r.lag.lagMs.p99 <= LAG_P99_TARGET_MS)],
      [`${r.label}: every published event claimed`, `${fmt(r.lag.claimed)} / ${fmt(r.lag.published)}`, 'all', r.lag.claimed >= r.lag.published - r.lag.errors ? 'ok' : 'VIOLATION'],
    ]),
  );
  const summary = Object.fromEntries(
    results.map((r) => [
      r.replicas === 1 ? 'single' : 'cluster',
      { singleAppendsPerS: r.single.eventsPerS, batchedEventsPerS: r.batched.eventsPerS, drainedPerS: r.drain.eventsPerS, drainedPerCoreSecond: r.drain.eventsPerCoreSecond, lagP99Ms: r.lag.lagMs.p99, targets: { drain: r.drain.eventsPerS >= DRAIN_TARGET, lagP99: r.lag.lagMs.p99 <= LAG_P99_TARGET_MS } },
    ]),
  );
  summary.ok = results.every((r) => r.lag.claimed >= r.lag.published - r.lag.errors);
  writeResults('ingest-jetstream', { config: { seconds, callers, drainers: 2, claimMax: 1000, batchedPerCall: 100 }, results, summary });
  return summary;
}

runWhenMain(import.meta.url, run);
