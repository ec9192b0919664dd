// The service's CPU per request on one route at saturation, to compare builds back to back (BENCH_DIST).
//
//   node bench/route-cpu.mjs [events|async|twin] [more routes…]
//
// events: POST /api/organizations/:orgId/usage/events, one event, one organization (the hot-org load);
// async:  POST /api/push/sow-to-loe, the asynchronous @TrackUsage route (stored in the ingest queue before the
//         answer; the service runs with INGEST_DRAINERS=0, so this is acceptance alone, as in bench/ingest.mjs);
// twin:   POST /api/untracked/visuals/planning, the untracked twin (Nest route, guard and body, no tracking).
// BENCH_CONNECTIONS (50) connections for BENCH_DURATION (8) s after 3 s of warm-up, each route on its own
// service; the service's CPU from /proc over the answered requests. BENCH_PERF=<file> also records a perf
// profile of the service (`perf report -i <file> --children`; needs perf and root) with V8's perf map.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createOrganizations, load, round } from './lib/http.mjs';
import { printTable } from './lib/report.mjs';
import { ADMIN_KEY, createDatabase, envInt, runWhenMain, sleep, startService } from './lib/service.mjs';

const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
const toolBody = JSON.stringify({ inputText: 'Why does the build fail on Mondays?' });
const ROUTES = {
  events: (org) => ({ method: 'POST', path: `/api/organizations/${org}/usage/events`, headers, body: JSON.stringify({ eventType: 'visuals_planning', eventData: { complexity: 1 } }) }),
  async: (org) => ({ method: 'POST', path: '/api/push/sow-to-loe', headers: { ...headers, 'x-organization-id': org }, body: toolBody }),
  twin: (org) => ({ method: 'POST', path: '/api/untracked/visuals/planning', headers: { ...headers, 'x-organization-id': org }, body: toolBody }),
};

/** utime + stime of a process, in ms. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export async function run(names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['events', 'async', 'twin']) {
  const duration = envInt('BENCH_DURATION', 8);
  const connections = envInt('BENCH_CONNECTIONS', 50);
  const rows = [];
  for (const name of names) {
    if (!ROUTES[name]) throw new Error(`unknown route "${name}": one of ${Object.keys(ROUTES).join(', ')}`);
    const db = await createDatabase('routecpu');
    const perfFile = process.env.BENCH_PERF;
    const svc = await startService({
      databaseUrl: db.url,
      env: { BENCH_ROUTES: 'true', INGEST_DRAINERS: '0' },
      nodeArgs: perfFile ? ['--perf-basic-prof', '--interpreted-frames-native-stack'] : [],
    });
    try {
      const [org] = await createOrganizations(svc.baseUrl, ['route-cpu']);
      const request = ROUTES[name](org);
      await load({ url: svc.baseUrl, connections, duration: 3, requests: [request] });
      await sleep(500);
      const perf = perfFile ? spawn('perf', ['record', '-F', '1999', '-g', '-o', `${perfFile}-${name}`, '-p', String(svc.pid)], { stdio: 'ignore' }) : undefined;
      if (perf) await sleep(300);
      const before = cpuMs(svc.pid);
      const r = await load({ url: svc.baseUrl, connections, duration, requests: [request] });
      const used = cpuMs(svc.pid) - before;
      if (perf) {
        perf.kill('SIGINT');
        await new Promise((ok) => perf.once('exit', ok));
      }
      rows.push([name, `${request.method} ${request.path.replace(org, ':orgId')}`, r.okPerS, r.non2xx + r.errors, round(used / Math.max(1, r.requests), 4)]);
    } finally {
      await svc.stop();
      await db.drop();
    }
  }
  printTable(`Service CPU per request (${connections} connections, ${duration} s, ${process.env.BENCH_DIST ?? 'dist'})`, [{ title: 'route' }, { title: 'request' }, { title: '2xx/s' }, { title: 'errors' }, { title: 'service CPU ms/request' }], rows);
  return { ok: rows.every((r) => r[3] === 0), rows };
}

runWhenMain(import.meta.url, run, (s) => s.ok);
