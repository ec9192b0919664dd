// A CPU profile of the service under tracking load (profile before optimizing).
//
//   npm run build && node bench/profile.mjs [single] [batch] [decorated]
//       (BENCH_DURATION=10 s a route, BENCH_CONNECTIONS=20, batches BENCH_BATCH_CONNECTIONS=4)
//
// For each scenario (single events through POST …/usage/events, 1,000-event batches on the same route, the
// @TrackUsage route; all three by default) starts the built service with `node --cpu-prof` on a fresh
// PostgreSQL database, drives the route with autocannon, stops it with SIGTERM (which writes the
// .cpuprofile into bench/results/profiles/), and prints where the service's CPU went: self time by package (node_modules/<name>, node internals, this project's own code) and the top
// functions. Open the .cpuprofile in Chrome DevTools (Performance > Load profile) for the full tree.
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createOrganizations, load } from './lib/http.mjs';
import { printTable } from './lib/report.mjs';
import { ADMIN_KEY, createDatabase, envInt, isMain, ROOT, startService } from './lib/service.mjs';

const DIR = resolve(ROOT, 'bench', 'results', 'profiles');

const SCENARIOS = {
  // Single events, organizations round robin.
  single: { connections: () => envInt('BENCH_CONNECTIONS', 20), request: (next, auth) => ({ method: 'POST', setupRequest: (r) => ({ ...r, path: `/api/organizations/${next()}/usage/events`, headers: auth, body: JSON.stringify({ eventType: 'visuals_planning', eventData: { complexity: 1.5 } }) }) }) },
  // 1,000-event batches (the batch benchmark's mix), few connections: per-event work dominates.
  batch: {
    connections: () => envInt('BENCH_BATCH_CONNECTIONS', 4),
    request: (next, auth) => {
      const mix = [{ eventType: 'visuals_planning', eventData: { complexity: 1.5 } }, { eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true } }, { eventType: 'push_structuring_to_visuals' }, { eventType: 'solutioning_formatting', eventData: { inputText: 'x'.repeat(800) } }, { eventType: 'export_pdf' }];
      const body = JSON.stringify({ events: Array.from({ length: 1000 }, (_, k) => ({ ...mix[k % mix.length], userId: `user-${k % 10}` })) });
      return { method: 'POST', setupRequest: (r) => ({ ...r, path: `/api/organizations/${next()}/usage/events`, headers: auth, body }) };
    },
  },
  // The @TrackUsage route.
  decorated: { connections: () => envInt('BENCH_CONNECTIONS', 20), request: (next, auth) => ({ method: 'POST', setupRequest: (r) => ({ ...r, path: '/api/visuals/planning', headers: { ...auth, 'x-organization-id': next() }, body: JSON.stringify({ complexity: 1.5 }) }) }) },
};

/**
 * One service run with `--cpu-prof` per scenario (so each profile holds one route's work only), each under
 * BENCH_DURATION s of load; answers the summaries. `names`: some of single, batch, decorated (default all).
 */
export async function run(names = Object.keys(SCENARIOS)) {
  const duration = envInt('BENCH_DURATION', 10);
  mkdirSync(DIR, { recursive: true });
  const out = {};
  for (const name of names) {
    const scenario = SCENARIOS[name];
    if (!scenario) throw new Error(`unknown scenario "${name}": one of ${Object.keys(SCENARIOS).join(', ')}`);
    const before = new Set(readdirSync(DIR));
    const db = await createDatabase('profile');
    let svc;
    let skipUs;
    try {
      const spawned = performance.now();
      svc = await startService({ databaseUrl: db.url, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${DIR}`] });
      const orgs = await createOrganizations(svc.baseUrl, Array.from({ length: 50 }, (_, i) => `prof-${String(i).padStart(2, '0')}`), 'enterprise');
      const auth = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
      let n = 0;
      const next = () => orgs[n++ % orgs.length];
      // Startup (module loading, migrations) and the setup above are not the request path: leave them out.
      skipUs = (performance.now() - spawned) * 1000;
      const r = await load({ url: svc.baseUrl, connections: scenario.connections(), duration, timeout: 60, requests: [scenario.request(next, auth)] });
      console.log(`\n${name}: ${r.okPerS} req/s ok (${r.non2xx + r.errors} not ok), p50 ${r.latencyMs.p50} ms, ${scenario.connections()} connections, ${duration} s`);
    } finally {
      await svc?.stop(20_000).catch(() => undefined);
      await db.drop().catch(() => undefined);
    }
    const fresh = readdirSync(DIR).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
    if (fresh.length === 0) throw new Error('no .cpuprofile was written (did the service exit on SIGTERM?)');
    const file = join(DIR, fresh.sort((a, b) => statSync(join(DIR, b)).mtimeMs - statSync(join(DIR, a)).mtimeMs)[0]);
    out[name] = summarize(file, 25, skipUs ?? 0);
  }
  return out;
}

/** Self time by package and the top functions of a .cpuprofile. */
export function summarize(file, top = 25, skipUs = 0) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // skipUs: the first microseconds of the process (startup and setup, measured from the spawn by run()).
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (at < skipUs) continue;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const packages = new Map();
  const functions = new Map();
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id);
    const pkg = packageOf(callFrame);
    if (pkg === '(idle)') continue;
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    const fn = `${callFrame.functionName || '(anonymous)'} ${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  const busy = [...packages.values()].reduce((a, b) => a + b, 0);
  const pct = (us) => `${((100 * us) / busy).toFixed(1)} %`;
  const rows = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  printTable(`Service CPU by package (${(busy / 1e6).toFixed(1)} s busy of ${(total / 1e6).toFixed(1)} s sampled${skipUs ? `, the first ${(skipUs / 1e6).toFixed(1)} s (startup, setup) left out` : ''}): ${file}`, [{ title: 'package' }, { title: 'self' }], rows(packages).slice(0, 15).map(([k, v]) => [k, pct(v)]));
  printTable('Top functions by self time', [{ title: 'function' }, { title: 'self' }], rows(functions).slice(0, top).map(([k, v]) => [k, pct(v)]));
  return { file, busySeconds: busy / 1e6, packages: Object.fromEntries(rows(packages).slice(0, 15).map(([k, v]) => [k, Number(((100 * v) / busy).toFixed(1))])) };
}

function packageOf(frame) {
  if (frame.functionName === '(idle)' || frame.functionName === '(program)') return frame.functionName === '(idle)' ? '(idle)' : '(program)';
  if (frame.functionName === '(garbage collector)') return '(gc)';
  const url = frame.url ?? '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:') || url === '') return '(node internals)';
  if (url.includes('/dist/')) return '(this service)';
  return '(other)';
}

function shortUrl(url) {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url;
}

if (isMain(import.meta.url)) {
  const arg = process.argv[2];
  // `node bench/profile.mjs <file>.cpuprofile [seconds to skip]`
  if (arg && arg.endsWith('.cpuprofile')) summarize(arg, 25, Number(process.argv[3] ?? 0) * 1e6);
  else await run(process.argv.length > 2 ? process.argv.slice(2) : undefined);
}
