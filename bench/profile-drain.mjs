// Profile of the ingest drain on the PostgreSQL queue: where the time of a drained backlog goes.
//
//   npm run build && node bench/profile-drain.mjs
//       BENCH_INGEST_BACKLOG=50000 events waiting (64 organizations, the top-up of bench/ingest.mjs),
//       BENCH_INGEST_DRAINERS=2, BENCH_INGEST_BATCH=5000; BENCH_NESTED=1 also logs the statements inside the
//       PL/pgSQL functions (auto_explain: slow, per event).
//
// One pass: the draining service runs with `node --cpu-prof` (wall-clock samples of its main thread), every
// statement of the bench database is logged with its duration (log_min_duration_statement = 0: the drain
// runs a few statements a batch, so logging costs little), and CPU seconds of the service and its backends
// are read from /proc over the drain. Prints: events/s, cores used, the service's self time by function and
// the statements' backend time (parse, bind, execute; lock waits and commit flush included).
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createOrganizations, round } from './lib/http.mjs';
import { backendPids, queueWaiting } from './lib/ledger.mjs';
import { fmt, printTable, writeResults } from './lib/report.mjs';
import { cpuMeter, envInt, isMain, PG_ADMIN_URL, sleep, startService, withService } from './lib/service.mjs';

const PG_LOG = process.env.BENCH_PG_LOG ?? '/var/log/postgresql/postgresql-15-main.log';

export async function run() {
  const backlog = envInt('BENCH_INGEST_BACKLOG', 50_000);
  const drainers = envInt('BENCH_INGEST_DRAINERS', 2);
  const batch = envInt('BENCH_INGEST_BATCH', 5000);
  return withService(
    async ({ db, svc, sql }) => {
      await createOrganizations(svc.baseUrl, Array.from({ length: 64 }, (_, i) => `ingest-${String(i).padStart(2, '0')}`));
      await sql.query(
        `INSERT INTO ingest_queue (id, organization_id, payload, bytes, enqueued_at)
         SELECT o || ':fill-' || g, o, jsonb_build_object('organizationId', o, 'eventType', 'push_sow_to_loe', 'eventData', '{}'::jsonb, 'idempotencyKey', 'fill-' || g, 'acceptedAt', now()), 120, now()
           FROM generate_series(1, $1::int) g, LATERAL (SELECT 'ingest-' || lpad(((g % 64))::text, 2, '0') AS o) x`,
        [backlog],
      );
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      await admin.query(`ALTER DATABASE ${db.name} SET log_min_duration_statement = 0`);
      if (process.env.BENCH_NESTED === '1') {
        await admin.query(`ALTER DATABASE ${db.name} SET session_preload_libraries = 'auto_explain'`);
        await admin.query(`ALTER DATABASE ${db.name} SET auto_explain.log_min_duration = 0`);
        await admin.query(`ALTER DATABASE ${db.name} SET auto_explain.log_nested_statements = on`);
      }
      await admin.end();
      const profDir = mkdtempSync(join(tmpdir(), 'drain-prof-'));
      const logFrom = existsSync(PG_LOG) ? statSync(PG_LOG).size : 0;
      const drainer = await startService({
        databaseUrl: db.url,
        env: { INGEST_DRAINERS: String(drainers), ASYNC_BATCH_SIZE: String(batch) },
        nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=500'],
      });
      const meter = cpuMeter([drainer.pid], backendPids(sql));
      const t0 = performance.now();
      for (;;) {
        const n = await queueWaiting(sql);
        if (n === 0) break;
        await sleep(100);
      }
      const seconds = (performance.now() - t0) / 1000;
      const cpu = await meter.end();
      await drainer.stop(20_000);
      const logTo = existsSync(PG_LOG) ? statSync(PG_LOG).size : 0;
      const [{ n: events }] = (await sql.query(`SELECT count(*)::int AS n FROM usage_events`)).rows;
      console.log(`drained ${fmt(backlog)} in ${round(seconds, 2)} s (from the drainer's health; startup excluded): ${fmt(backlog / seconds)} events/s; ${fmt(events)} ledger rows`);
      printTable('CPU over the drain (cores)', [{ title: 'service' }, { title: 'postgres' }, { title: 'other' }, { title: 'machine busy' }], [[cpu.serviceCores, cpu.postgresCores, cpu.otherCores, cpu.machineBusyCores]]);
      const service = summarizeProfile(profDir);
      printTable(`Service main thread (--cpu-prof, ${fmt(service.totalMs)} ms sampled)`, [{ title: 'function' }, { title: 'self ms' }, { title: 'share' }], service.top.map((r) => [r.fn, fmt(r.ms), `${r.pct} %`]));
      const statements = summarizeLog(readLogRange(PG_LOG, logFrom, logTo), db.name, backlog);
      printTable(`Statements (server log; backend wall time)`, [{ title: 'phase: statement' }, { title: 'count' }, { title: 'ms' }, { title: 'ms a call' }, { title: 'share' }], statements.rows.map((r) => [r.statement, fmt(r.count), r.totalMs, r.perCallMs, `${r.share} %`]));
      if (statements.nested.length > 0) printTable('Nested (auto_explain)', [{ title: 'statement' }, { title: 'count' }, { title: 'ms' }], statements.nested.map((r) => [r.statement, fmt(r.count), r.totalMs]));
      const out = { backlog, drainers, batch, seconds: round(seconds, 2), perS: round(backlog / seconds, 0), cpu, service, statements };
      writeResults('profile-drain', out);
      return out;
    },
    { env: { INGEST_DRAINERS: '0', INGEST_MAX_MESSAGES: '10000000' }, dbPrefix: 'bench_drainprof' },
  );
}

/** Self time by function over every .cpuprofile in dir (main thread, wall-clock samples). */
function summarizeProfile(dir) {
  const self = new Map();
  let total = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const dt = prof.timeDeltas;
    prof.samples.forEach((id, i) => {
      const node = byId.get(id);
      const cf = node.callFrame;
      const url = cf.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, '').replace(/^file:\/\//, '');
      const key = cf.url ? `${cf.functionName || '(anonymous)'} ${url}:${cf.lineNumber + 1}` : cf.functionName;
      const ms = (dt[i + 1] ?? dt[i] ?? 0) / 1000;
      self.set(key, (self.get(key) ?? 0) + ms);
      total += ms;
    });
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([fn, ms]) => ({ fn: fn.slice(0, 120), ms: round(ms, 0), pct: round((100 * ms) / total, 1) }));
  return { totalMs: round(total, 0), top };
}

function summarizeLog(text, dbName) {
  const totals = new Map();
  const nested = new Map();
  let all = 0;
  let current;
  const entries = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('\t') && current) {
      current.text += ` ${line.trim()}`;
      continue;
    }
    current = undefined;
    if (!line.includes(`@${dbName} `)) continue;
    const m = /duration: ([\d.]+) ms\s+(parse|bind|execute|statement|plan)[^:]*:\s*(.*)$/.exec(line);
    if (!m) continue;
    current = { ms: Number(m[1]), phase: m[2], text: m[3] };
    entries.push(current);
  }
  for (const e of entries) {
    const text = e.text.replace(/\s+/g, ' ').trim();
    if (e.phase === 'plan') {
      const key = text.replace(/^.*?Query Text:\s*/, '').slice(0, 110);
      const t = nested.get(key) ?? { ms: 0, n: 0 };
      t.ms += e.ms;
      t.n++;
      nested.set(key, t);
      continue;
    }
    const key = `${e.phase}: ${text.slice(0, 110)}`;
    const t = totals.get(key) ?? { ms: 0, n: 0 };
    t.ms += e.ms;
    t.n++;
    totals.set(key, t);
    all += e.ms;
  }
  const rows = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20).map(([k, t]) => ({ statement: k, count: t.n, totalMs: round(t.ms, 1), perCallMs: round(t.ms / t.n, 2), share: round((100 * t.ms) / all, 1) }));
  const nestedRows = [...nested.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15).map(([k, t]) => ({ statement: k, count: t.n, totalMs: round(t.ms, 1) }));
  return { totalMs: round(all, 1), rows, nested: nestedRows };
}

function readLogRange(file, from, to) {
  if (!existsSync(file) || to <= from) return '';
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(to - from);
    readSync(fd, buffer, 0, buffer.length, from);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

if (isMain(import.meta.url)) await run();
