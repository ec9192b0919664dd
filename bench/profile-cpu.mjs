// A CPU-time profile of the service AND its PostgreSQL backends under tracking load, with Linux `perf`
// (on-CPU samples only: a process that waits or is preempted is not sampled, unlike `node --cpu-prof`,
// which samples wall time on the main thread).
//
//   npm run build && node bench/profile-cpu.mjs [single-1] [single-50] [batch]
//       (all three by default; BENCH_DURATION=8 s of recorded load each, BENCH_HOT_CONNECTIONS=64 for the
//        single events, BENCH_BATCH_CONNECTIONS=8 for the 1,000-event batches: the hot-org and batch
//        benchmarks' loads; BENCH_PERF_FREQ=1999 samples/s per CPU; BENCH_STATEMENTS=0 skips the statement pass)
//
// Needs `perf` (Debian: apt-get install linux-perf) and root or kernel.perf_event_paranoid <= 1. Per scenario:
//   1. a fresh database with `track_functions = 'pl'` (PL/pgSQL calls and their self time counted in
//      pg_stat_user_functions), the service started with `--perf-basic-prof` (V8 writes /tmp/perf-<pid>.map so
//      perf names JIT-compiled JavaScript) and `--interpreted-frames-native-stack`;
//   2. 3 s of warm-up, then `perf record -g` on the service's threads and the database's backends while the
//      load runs; CPU seconds of each from /proc/<pid>/stat over the same window (the cross-check); the
//      PL/pgSQL functions' calls and times from pg_stat_user_functions;
//   3. (statement pass) the service restarted with `log_min_duration_statement = 0` on its database for 3 s of
//      the same load: the server log's per-statement durations (parse, bind, execute), summed by statement.
//      Those are wall times inside the backend (lock waits and the commit's WAL flush included).
// Prints: CPU by process and thread, by shared object, top symbols of the service and of PostgreSQL; writes
// bench/results/profiles/perf-<scenario>-<time>.{data,txt} and a JSON summary. PostgreSQL's Debian binary has
// no debug symbols: perf names its exported functions, and a static function shows as the exported one before
// it (plpgsql.so exports 60 symbols: read its share by object, not by symbol).
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { createOrganizations, load, round } from './lib/http.mjs';
import { backendPids, ledgerTotals } from './lib/ledger.mjs';
import { fmt, printTable, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, backgroundLoad, createDatabase, envInt, isMain, PG_ADMIN_URL, ROOT, sleep, startService } from './lib/service.mjs';

const DIR = resolve(ROOT, 'bench', 'results', 'profiles');
const PG_LOG = process.env.BENCH_PG_LOG ?? '/var/log/postgresql/postgresql-15-main.log';
const MIX = [
  { eventType: 'visuals_planning', eventData: { complexity: 1.5 } },
  { eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true } },
  { eventType: 'push_structuring_to_visuals' },
  { eventType: 'solutioning_formatting', eventData: { inputText: 'x'.repeat(800) } },
  { eventType: 'export_pdf' },
];

const auth = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
const single = JSON.stringify({ eventType: 'visuals_planning', eventData: { complexity: 1 } });
const batchBody = JSON.stringify({ events: Array.from({ length: 1000 }, (_, k) => ({ ...MIX[k % MIX.length], userId: `user-${k % 10}` })) });

const SCENARIOS = {
  'single-1': { title: 'single events, 1 organization', connections: () => envInt('BENCH_HOT_CONNECTIONS', 64), eventsPerRequest: 1, request: (orgs) => ({ method: 'POST', headers: auth, body: single, setupRequest: (r) => ({ ...r, path: `/api/organizations/${orgs[0]}/usage/events` }) }) },
  'single-50': {
    title: 'single events, 50 organizations',
    connections: () => envInt('BENCH_HOT_CONNECTIONS', 64),
    eventsPerRequest: 1,
    request: (orgs) => {
      let i = 0;
      return { method: 'POST', headers: auth, body: single, setupRequest: (r) => ({ ...r, path: `/api/organizations/${orgs[i++ % orgs.length]}/usage/events` }) };
    },
  },
  batch: {
    title: '1,000-event batches, 16 organizations',
    connections: () => envInt('BENCH_BATCH_CONNECTIONS', 8),
    eventsPerRequest: 1000,
    orgs: 16,
    request: (orgs) => {
      let i = 0;
      return { method: 'POST', headers: auth, body: batchBody, setupRequest: (r) => ({ ...r, path: `/api/organizations/${orgs[i++ % orgs.length]}/usage/events` }) };
    },
  },
};

export async function run(names = Object.keys(SCENARIOS)) {
  execFileSync('perf', ['--version']);
  mkdirSync(DIR, { recursive: true });
  const out = {};
  for (const name of names) {
    const scenario = SCENARIOS[name];
    if (!scenario) throw new Error(`unknown scenario "${name}": one of ${Object.keys(SCENARIOS).join(', ')}`);
    out[name] = await profileScenario(name, scenario);
  }
  writeResults('profile-cpu', out);
  return out;
}

async function profileScenario(name, scenario) {
  const duration = envInt('BENCH_DURATION', 8);
  const freq = envInt('BENCH_PERF_FREQ', 1999);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dataFile = join(DIR, `perf-${name}-${stamp}.data`);
  const busyBefore = await backgroundLoad();
  console.log(`\n== ${scenario.title}: machine busy before: ${busyBefore} of 2 cores`);
  const db = await createDatabase('profcpu');
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`ALTER DATABASE ${db.name} SET track_functions = 'pl'`);
  let svc;
  let sql;
  const result = { scenario: scenario.title, busyBefore };
  try {
    svc = await startService({ databaseUrl: db.url, nodeArgs: ['--perf-basic-prof', '--interpreted-frames-native-stack'] });
    sql = new pg.Pool({ connectionString: db.url, max: 2 });
    const orgs = await createOrganizations(svc.baseUrl, Array.from({ length: scenario.orgs ?? 50 }, (_, i) => `prof-${String(i).padStart(2, '0')}`));
    const connections = scenario.connections();
    await load({ url: svc.baseUrl, connections, duration: 3, timeout: 60, requests: [scenario.request(orgs)] });
    await sleep(1000);
    const backends = await backendPids(sql)();
    await sql.query('SELECT pg_stat_reset()');
    const before = await ledgerTotals(sql);
    const cpu0 = cpuOf([svc.pid, ...backends]);
    const t0 = performance.now();
    const perf = spawn('perf', ['record', '-F', String(freq), '-g', '-o', dataFile, '-p', [svc.pid, ...backends].join(',')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let perfErr = '';
    perf.stderr.on('data', (d) => (perfErr += d));
    await sleep(300); // perf attaches
    const r = await load({ url: svc.baseUrl, connections, duration, timeout: 60, requests: [scenario.request(orgs)] });
    perf.kill('SIGINT');
    await new Promise((ok) => perf.once('exit', ok));
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuOf([svc.pid, ...backends]);
    await sleep(1500); // requests in flight finish; backends flush their function statistics
    const after = await ledgerTotals(sql);
    const events = after.events - before.events;
    const svcCpu = cpu1.get(svc.pid) - cpu0.get(svc.pid);
    const pgCpu = backends.reduce((a, p) => a + ((cpu1.get(p) ?? 0) - (cpu0.get(p) ?? 0)), 0);
    const functions = (await sql.query(`SELECT funcname, calls, round(total_time::numeric, 1) AS total_ms, round(self_time::numeric, 1) AS self_ms FROM pg_stat_user_functions ORDER BY self_time DESC LIMIT 12`)).rows;
    Object.assign(result, {
      connections,
      seconds: round(seconds, 1),
      requestsPerS: r.okPerS,
      eventsWritten: events,
      eventsPerS: round(events / seconds, 0),
      latencyMs: r.latencyMs,
      cpuMsPerEvent: { service: round((svcCpu * 1000) / Math.max(1, events), 4), postgres: round((pgCpu * 1000) / Math.max(1, events), 4) },
      cores: { service: round(svcCpu / seconds, 2), postgres: round(pgCpu / seconds, 2) },
      functions: functions.map((f) => ({ ...f, perEventMs: round(Number(f.total_ms) / Math.max(1, events), 4), selfPerEventMs: round(Number(f.self_ms) / Math.max(1, events), 4), perCallMs: round(Number(f.total_ms) / Math.max(1, Number(f.calls)), 3) })),
    });
    if (!existsSync(dataFile) || statSync(dataFile).size === 0) throw new Error(`perf wrote nothing: ${perfErr}`);
    Object.assign(result, report(dataFile, events));
    printTable(`${scenario.title}: ${fmt(result.eventsPerS)} events/s, ${connections} connections, ${result.seconds} s; CPU from /proc: service ${result.cores.service} cores (${result.cpuMsPerEvent.service} ms/event), PostgreSQL ${result.cores.postgres} (${result.cpuMsPerEvent.postgres} ms/event)`, [{ title: 'process / thread (perf samples)' }, { title: 'share of all' }], result.byThread.map((t) => [t.name, `${t.pct} %`]));
    printTable('By shared object (share of the process)', [{ title: 'process' }, { title: 'object' }, { title: 'share' }], result.byObject.map((o) => [o.process, o.dso, `${o.pct} %`]));
    printTable('Service self time by kind (share of the service)', [{ title: 'kind' }, { title: 'self' }], result.serviceByKind.map((k) => [k.kind, `${k.pct} %`]));
    printTable('Service JavaScript, inclusive (this service and the pg/typeorm drivers; share of the service, main thread)', [{ title: 'function' }, { title: 'with callees' }], result.serviceInclusive.map((f) => [f.sym, `${f.pct} %`]));
    printTable('Top symbols, service (self, share of the service)', [{ title: 'symbol' }, { title: 'object' }, { title: 'self' }], result.topService.map((s) => [s.sym, s.dso, `${s.pct} %`]));
    printTable('Top symbols, PostgreSQL (self, share of PostgreSQL)', [{ title: 'symbol' }, { title: 'object' }, { title: 'self' }], result.topPostgres.map((s) => [s.sym, s.dso, `${s.pct} %`]));
    printTable('PostgreSQL, inclusive (with callees, share of PostgreSQL; the generic frames left out)', [{ title: 'function' }, { title: 'with callees' }, { title: 'self' }], result.pgInclusive.map((f) => [f.sym, `${f.pct} %`, `${f.self} %`]));
    printTable('PL/pgSQL functions (pg_stat_user_functions, track_functions = pl)', [{ title: 'function' }, { title: 'calls' }, { title: 'total ms' }, { title: 'self ms' }, { title: 'ms a call' }, { title: 'total ms an event' }], result.functions.map((f) => [f.funcname, fmt(f.calls), f.total_ms, f.self_ms, f.perCallMs, f.perEventMs]));
  } finally {
    await svc?.stop(20_000).catch(() => undefined);
    await sql?.end().catch(() => undefined);
  }
  try {
    if (process.env.BENCH_STATEMENTS !== '0') result.statements = await statementPass(db, scenario);
  } finally {
    await admin.end().catch(() => undefined);
    await db.drop().catch(() => undefined);
  }
  return result;
}

/** utime + stime (s) of each pid now. */
function cpuOf(pids) {
  const m = new Map();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      m.set(pid, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      m.set(pid, 0);
    }
  }
  return m;
}

/** Parses `perf report` (self time, no call graph) into shares by thread, object and symbol. */
function report(dataFile, events) {
  const text = execFileSync('perf', ['report', '-i', dataFile, '--no-children', '--sort', 'comm,dso,sym', '--stdio', '-g', 'none', '--percent-limit', '0.05'], { maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  writeFileSync(dataFile.replace(/\.data$/, '.txt'), text);
  const rows = [];
  for (const line of text.split('\n')) {
    const m = /^\s+([\d.]+)%\s+(\S+(?: \S+)*?)\s{2,}(\S+)\s+\[[.kj]\]\s+(.*)$/.exec(line);
    if (m) rows.push({ pct: Number(m[1]), comm: m[2].trim(), dso: m[3], sym: m[4].trim() });
  }
  const isPg = (r) => r.comm === 'postgres';
  const sum = (list) => list.reduce((a, r) => a + r.pct, 0);
  const total = sum(rows);
  const threads = new Map();
  for (const r of rows) threads.set(r.comm, (threads.get(r.comm) ?? 0) + r.pct);
  const svcRows = rows.filter((r) => !isPg(r));
  const pgRows = rows.filter(isPg);
  const svcTotal = sum(svcRows);
  const pgTotal = sum(pgRows);
  const group = (list, key, of) => {
    const m = new Map();
    for (const r of list) m.set(key(r), (m.get(key(r)) ?? 0) + r.pct);
    return [...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => ({ k, pct: round((100 * v) / of, 1) }));
  };
  const dsoName = (r) => (r.dso.startsWith('perf-') ? 'JIT (JavaScript, V8 stubs)' : r.dso);
  const top = (list, of, n) => group(list, (r) => `${r.sym}\u0000${dsoName(r)}`, of).slice(0, n).map(({ k, pct }) => ({ sym: k.split('\u0000')[0].slice(0, 110), dso: k.split('\u0000')[1], pct }));
  // The service's self time by kind: what a reader can act on (GC, system calls, allocation, V8's generic
  // machinery, JSON, and JavaScript by package).
  const kind = (r) => {
    if (r.dso === '[kernel.kallsyms]') return 'kernel (system calls: sockets, epoll, scheduling)';
    if (/Scaveng|Mark|Sweep|Evacuat|Compact|::Heap::|GCTracer|RecordWrite|Remembered|SlotSet|Heap::|MemoryChunk|PagedSpace|NewSpace/.test(r.sym)) return 'garbage collector (V8)';
    if (r.dso.startsWith('libc')) return /malloc|free|memmove|memcpy|memset|cfree|consolidate/.test(r.sym) ? 'libc: malloc/free/memcpy' : 'libc: other';
    if (/Json/.test(r.sym)) return 'JSON parse/stringify (V8)';
    if (r.sym.startsWith('JS:') || r.sym.startsWith('LazyCompile:') || r.sym.startsWith('Function:')) {
      const nm = r.sym.lastIndexOf('node_modules/');
      if (nm >= 0) {
        const rest = r.sym.slice(nm + 13).split('/');
        return `JS: ${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
      }
      if (r.sym.includes('/dist/')) return 'JS: this service (dist/)';
      if (r.sym.includes('node:')) return 'JS: node internals';
      return 'JS: other';
    }
    if (r.sym.startsWith('Builtins_')) return 'V8 builtins (ICs, promises, async functions, calls)';
    if (r.dso === 'node') return /^(node::|uv_|uv__|llhttp|nghttp|ada::|simdutf)/.test(r.sym) ? 'node/libuv/llhttp native' : 'V8 runtime (other native)';
    return r.dso;
  };
  // Inclusive time (children) of the service's own JavaScript functions and of the database driver's.
  const inclusive = [];
  try {
    const children = execFileSync('perf', ['report', '-i', dataFile, '--children', '--comms', 'node', '--sort', 'sym', '--stdio', '-g', 'none', '--percent-limit', '0.3'], { maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    for (const line of children.split('\n')) {
      const m = /^\s+([\d.]+)%\s+([\d.]+)%\s+\[[.kj]\]\s+(JS:.*)$/.exec(line);
      // A module's top-level function (`:1:1`) runs once at load: a sample named so is an address the map
      // file gave to load-time code and V8 reused later (perf-basic-prof does not log code moves).
      if (m && / \S+:1:1$/.test(m[3])) continue;
      if (m && (m[3].includes('/dist/') || /node_modules\/(pg|pg-protocol|typeorm)\//.test(m[3]))) inclusive.push({ sym: m[3].replace(/file:\/\/\S*?\/(dist|node_modules)\//, '$1/').slice(0, 120), pct: round((100 * Number(m[1])) / (svcTotal / total * 100), 1) });
    }
  } catch {
    // perf report failed: the self-time tables still stand
  }
  // PostgreSQL's inclusive time (children) by function: its binary keeps frame pointers, so the call chains
  // say where the self time above comes from (jsonb_in under a bind = parsing a JSON parameter).
  const pgInclusive = [];
  try {
    const children = execFileSync('perf', ['report', '-i', dataFile, '--children', '--comms', 'postgres', '--sort', 'sym', '--stdio', '-g', 'none', '--percentage', 'relative', '--percent-limit', '0.8'], { maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const generic = /^(main|PostmasterMain|PostgresMain|__libc_start_call_main|__libc_start_main.*|_start|ServerLoop|BackendStartup|BackendRun|ExecutorRun|standard_ExecutorRun|PortalRun|PortalRunSelect|PortalRunMulti|PortalRunFetch|ExecProcNode.*|entry_SYSCALL.*|do_syscall_64)$/;
    for (const line of children.split('\n')) {
      const m = /^\s+([\d.]+)%\s+([\d.]+)%\s+\[[.kj]\]\s+(\S.*)$/.exec(line);
      if (m && !/^0x/.test(m[3]) && !generic.test(m[3].trim())) pgInclusive.push({ sym: m[3].trim(), pct: round(Math.min(100, Number(m[1])), 1), self: round(Number(m[2]), 1) });
    }
  } catch {
    // perf report failed: the self-time tables still stand
  }
  return {
    events,
    samplesShown: round(total, 1),
    pgInclusive: pgInclusive.slice(0, 30),
    serviceByKind: group(svcRows, kind, svcTotal).map(({ k, pct }) => ({ kind: k, pct })),
    serviceInclusive: inclusive.slice(0, 30),
    byThread: [...threads.entries()].sort((a, b) => b[1] - a[1]).map(([name, v]) => ({ name, pct: round((100 * v) / total, 1) })),
    byObject: [
      ...group(svcRows, dsoName, svcTotal).slice(0, 8).map(({ k, pct }) => ({ process: 'service', dso: k, pct })),
      ...group(pgRows, dsoName, pgTotal).slice(0, 6).map(({ k, pct }) => ({ process: 'postgres', dso: k, pct })),
    ],
    topService: top(svcRows, svcTotal, 30),
    topPostgres: top(pgRows, pgTotal, 30),
  };
}

/**
 * The service again on the same database with every statement logged with its duration (3 s of the same
 * load): sums, by statement, the parse/bind/execute durations the server logs for this database.
 */
async function statementPass(db, scenario) {
  if (!existsSync(PG_LOG)) return { skipped: `no server log at ${PG_LOG}` };
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`ALTER DATABASE ${db.name} SET log_min_duration_statement = 0`);
  // The statements inside the PL/pgSQL functions too (auto_explain, loaded per session: no server restart),
  // logged as "plan" entries; a function's own entry includes theirs.
  await admin.query(`ALTER DATABASE ${db.name} SET session_preload_libraries = 'auto_explain'`);
  await admin.query(`ALTER DATABASE ${db.name} SET auto_explain.log_min_duration = 0`);
  await admin.query(`ALTER DATABASE ${db.name} SET auto_explain.log_nested_statements = on`);
  await admin.end();
  const offset = statSync(PG_LOG).size;
  const svc = await startService({ databaseUrl: db.url });
  const sql = new pg.Pool({ connectionString: db.url, max: 1 });
  let events = 0;
  try {
    const orgs = Array.from({ length: scenario.orgs ?? 50 }, (_, i) => `prof-${String(i).padStart(2, '0')}`);
    await load({ url: svc.baseUrl, connections: scenario.connections(), duration: 1, timeout: 60, requests: [scenario.request(orgs)] });
    await sleep(500);
    const before = await ledgerTotals(sql);
    const from = statSync(PG_LOG).size;
    await load({ url: svc.baseUrl, connections: scenario.connections(), duration: 3, timeout: 60, requests: [scenario.request(orgs)] });
    await sleep(1500);
    const to = statSync(PG_LOG).size;
    events = (await ledgerTotals(sql)).events - before.events;
    const text = readLogRange(PG_LOG, Math.max(offset, from), to);
    const totals = new Map();
    let all = 0;
    // A logged statement's text goes on over the lines that follow it (they start with a tab).
    const entries = [];
    let current;
    for (const line of text.split('\n')) {
      if (line.startsWith('\t') && current) {
        current.text += ` ${line.trim()}`;
        continue;
      }
      current = undefined;
      if (!line.includes(`@${db.name} `)) continue;
      const m = /duration: ([\d.]+) ms\s+(parse|bind|execute|statement|plan)[^:]*:\s*(.*)$/.exec(line);
      if (!m) continue;
      current = { ms: Number(m[1]), phase: m[2], text: m[3] };
      entries.push(current);
    }
    const nested = new Map();
    for (const e of entries) {
      if (e.phase === 'plan') {
        // auto_explain: "Query Text: <statement> <plan…>"; a top-level statement is already counted above.
        const text = e.text.replace(/\s+/g, ' ').replace(/^.*?Query Text:\s*/, '').trim();
        if (/^(SELECT \* FROM consume_credits|WITH ev AS|UPDATE ingest_queue|SELECT pg_advisory|SELECT \(SELECT role)/.test(text)) continue;
        const key = text.slice(0, 110);
        const t = nested.get(key) ?? { ms: 0, n: 0 };
        t.ms += e.ms;
        t.n++;
        nested.set(key, t);
        continue;
      }
      const key = `${e.phase}: ${e.text.replace(/\s+/g, ' ').trim().slice(0, 110)}`;
      const t = totals.get(key) ?? { ms: 0, n: 0 };
      t.ms += e.ms;
      t.n++;
      totals.set(key, t);
      all += e.ms;
    }
    const rows = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15).map(([k, t]) => ({ statement: k, count: t.n, totalMs: round(t.ms, 1), perEventMs: round(t.ms / Math.max(1, events), 4), share: round((100 * t.ms) / all, 1) }));
    printTable(`Statements (server log, 3 s, ${fmt(events)} events; wall time in the backend, lock waits and commit flush included)`, [{ title: 'phase: statement' }, { title: 'count' }, { title: 'ms' }, { title: 'ms an event' }, { title: 'share' }], rows.map((r) => [r.statement, fmt(r.count), r.totalMs, r.perEventMs, `${r.share} %`]));
    const nestedRows = [...nested.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15).map(([k, t]) => ({ statement: k, count: t.n, totalMs: round(t.ms, 1), perEventMs: round(t.ms / Math.max(1, events), 4), perCallMs: round(t.ms / t.n, 4) }));
    printTable('Statements inside the PL/pgSQL functions (auto_explain, nested; included in the function call above)', [{ title: 'statement' }, { title: 'count' }, { title: 'ms' }, { title: 'ms a call' }, { title: 'ms an event' }], nestedRows.map((r) => [r.statement, fmt(r.count), r.totalMs, r.perCallMs, r.perEventMs]));
    return { events, totalMs: round(all, 1), rows, nested: nestedRows };
  } finally {
    await svc.stop(20_000).catch(() => undefined);
    await sql.end().catch(() => undefined);
  }
}

function readLogRange(file, from, to) {
  if (to <= from) return '';
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(to - from);
    readSync(fd, buffer, 0, buffer.length, from);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

if (isMain(import.meta.url)) {
  await run(process.argv.length > 2 ? process.argv.slice(2) : undefined);
}
