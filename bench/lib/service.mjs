// The service under test as a real process (node dist/src/main.js) on a fresh PostgreSQL database, and the
// measurements taken from outside it (RSS from /proc). Everything listens and connects on 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const ADMIN_KEY = process.env.BENCH_ADMIN_KEY ?? 'bench-admin-key-0123456789';
/** Where `CREATE DATABASE bench_<random>` runs; the service gets the same server with that database. */
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * BENCH_EMBEDDED=1: the service runs on its embedded PGlite database (no DATABASE_URL, a fresh DATA_DIR in a
 * temp folder). PGlite lives inside the service process, so nothing outside it can run SQL: the ledger checks
 * and the raw PostgreSQL baselines are skipped (the reports say so), and PostgreSQL CPU is part of the service's.
 */
export const EMBEDDED = process.env.BENCH_EMBEDDED === '1' || process.env.BENCH_EMBEDDED === 'true';

/** The compiled service; BENCH_DIST points elsewhere (e.g. a build of another branch kept aside). */
const MAIN = join(resolve(ROOT, process.env.BENCH_DIST ?? 'dist'), 'src', 'main.js');

/**
 * The V8 flags of `npm start` (package.json), so the benchmarks measure the service as it is deployed: its
 * heap limits decide most of its RSS. BENCH_NODE_ARGS replaces them (e.g. "" for V8's defaults).
 */
export const SERVICE_NODE_ARGS =
  process.env.BENCH_NODE_ARGS !== undefined
    ? process.env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean)
    : (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start.match(/--[\w-]+=\S+/g) ?? []);

/** The benchmarks run the compiled service: `npm run bench` builds first; a bare `node bench/x.mjs` needs a build. */
export function assertBuilt() {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first (npm run bench does it)`);
}

/** A fresh database for one run; `drop()` removes it (and ends any connection still open to it). */
export async function createDatabase(prefix = 'bench') {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * The environment every run uses: production mode, warn-level logs, rate limiting off (it is measured on its
 * own, not as a side effect of a load test), scheduled jobs off unless asked (a bench triggers them itself).
 */
export function serviceEnv(databaseUrl, extra = {}) {
  return {
    NODE_ENV: 'production',
    ADMIN_API_KEY: ADMIN_KEY,
    // Embedded: DATABASE_URL must be absent (not "undefined"), and DATA_DIR is the run's own folder.
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '0',
    RATE_LIMIT_ADMIN_PER_MINUTE: '0',
    JOBS_ENABLED: 'false',
    ...extra,
  };
}

/** The embedded mode's stand-in for createDatabase: a fresh PGlite data folder, removed by drop(). */
export function createEmbeddedDataDir(prefix = 'bench') {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-pglite-`));
  return { name: dir, url: undefined, dataDir: dir, async drop() { rmSync(dir, { recursive: true, force: true }); } };
}

/**
 * Starts `node dist/src/main.js` (or `main`, another build's) and waits for GET /health = 200. `port` may be
 * given (a restart on the same port, so clients reconnect to the same URL). The returned handle can stop (SIGTERM) or kill -9 the process.
 */
export async function startService({ databaseUrl, env = {}, port, timeoutMs = 60_000, nodeArgs = [], main = MAIN }) {
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first (npm run bench does it)`);
  port ??= await freePort();
  let output = '';
  const started = Date.now();
  const childEnv = { ...process.env, ...serviceEnv(databaseUrl, env), PORT: String(port) };
  if (!databaseUrl) delete childEnv.DATABASE_URL; // the caller's own DATABASE_URL must not leak into an embedded run
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, ...nodeArgs, main], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d) => {
    output += d;
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const baseUrl = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`service exited early (${child.exitCode ?? child.signalCode}):\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`service did not become healthy within ${timeoutMs} ms:\n${output}`);
    }
    await sleep(100);
  }
  return {
    child,
    pid: child.pid,
    port,
    baseUrl,
    startupMs: Date.now() - started,
    exited,
    output: () => output,
    /** Graceful stop (SIGTERM: flushes, closes the pool); SIGKILL after `graceMs`. */
    async stop(graceMs = 35_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    /** kill -9: no shutdown hook runs. */
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** VmRSS of a process in MB, or undefined once it is gone. */
export function rssMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples the RSS of `pid()` every `intervalMs` (200 ms by default) until stopped. `pid` is a function so a
 * restarted service keeps being sampled. `mark(label)` tags the following samples (a phase of the run).
 */
export function sampleRss(pid, intervalMs = 200) {
  const samples = [];
  let label = '';
  const t0 = Date.now();
  const timer = setInterval(() => {
    const mb = rssMb(pid());
    if (mb !== undefined) samples.push({ t: Date.now() - t0, mb: Math.round(mb * 10) / 10, label });
  }, intervalMs);
  return {
    mark(next) {
      label = next;
    },
    stop() {
      clearInterval(timer);
      return summarizeRss(samples);
    },
    summary: (only) => summarizeRss(only === undefined ? samples : samples.filter((s) => s.label === only)),
    samples,
  };
}

export function summarizeRss(samples) {
  if (samples.length === 0) return { samples: 0, peakMb: null, meanMb: null, lastMb: null };
  const mbs = samples.map((s) => s.mb);
  return {
    samples: samples.length,
    peakMb: Math.max(...mbs),
    meanMb: Math.round((mbs.reduce((a, b) => a + b, 0) / mbs.length) * 10) / 10,
    firstMb: mbs[0],
    lastMb: mbs[mbs.length - 1],
  };
}

/** A pg pool on the bench database, for seeding and for the invariant checks. */
export function pool(url, max = 4) {
  return new pg.Pool({ connectionString: url, max });
}

// ---- CPU accounting: who used the two cores during a phase (evidence for "what bounds it") -------------

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function processCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime + stime
  } catch {
    return 0;
  }
}

function postgresCpuSeconds() {
  let total = 0;
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += processCpuSeconds(entry);
    } catch {
      // gone
    }
  }
  return total;
}

function machineCpuSeconds() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const idle = line[3] + line[4];
  const busy = line.reduce((a, b) => a + b, 0) - idle;
  return { busy: busy / TICKS_PER_SECOND, all: (busy + idle) / TICKS_PER_SECOND };
}

function readdirSafe(path) {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/**
 * Starts a CPU measurement; `end()` returns the cores each party used on average over the interval: the
 * service process(es), PostgreSQL, this process (the load generator), and `other` = the whole machine minus
 * those three (other engineers' tests, PostgreSQL's shared background processes).
 *
 * PostgreSQL: with `postgresPids` (an async function listing the bench database's backends), the backends are
 * listed every 500 ms, so connections a pool opens during the run count too (from zero: they started within
 * it); without it, every postgres process on the machine counts (other databases included).
 */
export function cpuMeter(servicePids, postgresPids) {
  const pids = () => (typeof servicePids === 'function' ? servicePids() : servicePids);
  const t0 = performance.now();
  const backends = new Map(); // pid -> { base, last }
  const poll = async (initial) => {
    for (const pid of await postgresPids().catch(() => [])) {
      if (!backends.has(pid)) {
        const now = processCpuSeconds(pid);
        backends.set(pid, { base: initial ? now : 0, last: now });
      }
    }
    for (const [pid, b] of backends) {
      const now = processCpuSeconds(pid);
      if (now > 0) b.last = now;
    }
  };
  const ready = postgresPids ? poll(true) : Promise.resolve();
  const timer = postgresPids ? setInterval(() => void poll(false), 500) : undefined;
  const start = { service: pids().reduce((a, p) => a + processCpuSeconds(p), 0), pg: postgresPids ? 0 : postgresCpuSeconds(), self: process.cpuUsage(), machine: machineCpuSeconds() };
  return {
    async end() {
      await ready;
      const seconds = (performance.now() - t0) / 1000;
      const service = pids().reduce((a, p) => a + processCpuSeconds(p), 0) - start.service;
      let postgres;
      if (postgresPids) {
        clearInterval(timer);
        await poll(false);
        postgres = [...backends.values()].reduce((a, b) => a + Math.max(0, b.last - b.base), 0);
      } else postgres = Math.max(0, postgresCpuSeconds() - start.pg);
      const selfUsage = process.cpuUsage(start.self);
      const loadgen = (selfUsage.user + selfUsage.system) / 1e6;
      const m = machineCpuSeconds();
      const busy = m.busy - start.machine.busy;
      const cores = (v) => Math.round((v / seconds) * 100) / 100;
      return {
        seconds: Math.round(seconds * 10) / 10,
        serviceCores: cores(service),
        postgresCores: cores(postgres),
        loadgenCores: cores(loadgen),
        otherCores: cores(Math.max(0, busy - service - postgres - loadgen)),
        machineBusyCores: cores(busy),
      };
    },
  };
}

// ---- One run's lifecycle ---------------------------------------------------------------------------------

/** What the results files record about the machine during the run (set by withService). */
export const runContext = {};

/** Cores busy on the machine over `ms`, before anything of ours runs: the background other work makes. */
export async function backgroundLoad(ms = 2000) {
  const a = machineCpuSeconds();
  await sleep(ms);
  const b = machineCpuSeconds();
  return Math.round(((b.busy - a.busy) / (ms / 1000)) * 100) / 100;
}

/**
 * Creates a fresh database, starts `instances` services on it, runs `work({db, services, svc, sql})`, and
 * always cleans up: services stopped, pool closed, database dropped (Ctrl-C included). With BENCH_EMBEDDED=1
 * the database is a fresh PGlite folder of the (single) service and `sql` is null: no SQL from outside.
 */
export async function withService(work, { instances = 1, env = {}, dbPrefix = 'bench' } = {}) {
  assertBuilt();
  runContext.backgroundBusyCores = await backgroundLoad();
  console.log(`machine busy before the run: ${runContext.backgroundBusyCores} of ${cpus().length} cores (other work on the machine; figures below share it)`);
  if (EMBEDDED && instances > 1) throw new Error('BENCH_EMBEDDED=1: one service only (PGlite is one process\'s database)');
  if (EMBEDDED) console.log('embedded database (BENCH_EMBEDDED=1): the service on PGlite; ledger checks and raw PostgreSQL baselines are skipped');
  const db = EMBEDDED ? createEmbeddedDataDir(dbPrefix) : await createDatabase(dbPrefix);
  const services = [];
  let sql;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await Promise.all(services.map((s) => s.stop(10_000).catch(() => undefined)));
    await sql?.end().catch(() => undefined);
    await db.drop().catch((e) => console.error(`could not drop ${db.name}: ${e.message}`));
  };
  const onSignal = () => {
    console.error('\ninterrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // One at a time: the first applies the migrations and the seed.
    const runEnv = EMBEDDED ? { ...env, DATA_DIR: db.dataDir } : env;
    for (let i = 0; i < instances; i++) services.push(await startService({ databaseUrl: db.url, env: runEnv }));
    sql = EMBEDDED ? null : pool(db.url);
    return await work({ db, services, svc: services[0], sql });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

/** True when this module is the script node was started with. */
export function isMain(metaUrl) {
  return process.argv[1] !== undefined && resolve(process.argv[1]) === new URL(metaUrl).pathname;
}

/**
 * Runs a benchmark when its file is the script node was started with (not when run-all imports it): exit 0
 * when `passed(summary)`, 1 when it did not or the run threw.
 */
export function runWhenMain(metaUrl, run, passed = (s) => s.ok) {
  if (!isMain(metaUrl)) return;
  run().then(
    (s) => process.exit(passed(s) ? 0 : 1),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

export const envInt = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number (got "${raw}")`);
  return n;
};
