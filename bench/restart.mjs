// Start and restart: how long `npm start` takes, on the embedded database, until GET /health answers 200.
//
//   npm run bench -- restart             (or: npm run build && node bench/restart.mjs)
//
// What a newcomer does: `npm start` with no DATABASE_URL, no ADMIN_API_KEY. The first start on an empty data
// folder creates the database, migrates and seeds it; a restart reopens the folder. Both run through npm, as
// the README says, so `prestart` (the check that the build is current, which rebuilds only when a source is
// newer than dist/) is in the figure. Baseline in the same run: a bare Node.js HTTP server started the same
// way (`node -e`), i.e. what starting any Node.js process that answers HTTP costs on this machine now.
// Target: a restart answers /health within 3 s.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentiles } from './lib/http.mjs';
import { fmt, printTable, verdict, writeResults } from './lib/report.mjs';
import { assertBuilt, freePort, runWhenMain, ROOT, sleep } from './lib/service.mjs';

const RESTARTS = Number(process.env.BENCH_RESTARTS ?? 5);
const TARGET_MS = 3000;

/** Spawns `command args` (its own process group), polls `url` until 200; returns ms to ready and a stop(). */
async function timeToReady(command, args, env, url, timeoutMs = 60_000) {
  const started = performance.now();
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exited = false;
  child.on('exit', () => (exited = true));
  const groupAlive = () => {
    try {
      process.kill(-child.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // npm exits before the service it started: wait for the whole process group, so the next start finds the
  // port and the data folder free (otherwise it would be timed against the old process still answering).
  const stop = async () => {
    if (groupAlive()) process.kill(-child.pid, 'SIGTERM');
    const deadline = performance.now() + 15_000;
    while (groupAlive() && performance.now() < deadline) await sleep(20);
    if (groupAlive()) process.kill(-child.pid, 'SIGKILL');
    while (groupAlive()) await sleep(20);
  };
  while (performance.now() - started < timeoutMs) {
    if (exited) throw new Error(`${command} ${args.join(' ')} exited before it answered:\n${output.slice(-2000)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return { ms: performance.now() - started, stop, output };
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  await stop();
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${output.slice(-2000)}`);
}

export async function run() {
  assertBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-restart-'));
  const env = { ...process.env };
  for (const name of ['DATABASE_URL', 'ADMIN_API_KEY', 'REDIS_URL', 'NATS_URL', 'HOST', 'PUBLIC_URL']) delete env[name];
  try {
    const port = await freePort();
    const serviceEnv = { ...env, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    const health = `http://127.0.0.1:${port}/health`;

    const bare = [];
    for (let i = 0; i < 3; i++) {
      const server = `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
      const { ms, stop } = await timeToReady(process.execPath, ['-e', server], env, health);
      bare.push(ms);
      await stop();
    }

    // A stale build would make the first start a rebuild, which is not what this measures.
    const check = spawnSync(process.execPath, ['scripts/ensure-built.mjs', '--check'], { cwd: ROOT });
    if (check.status !== 0) throw new Error('dist/ is older than the sources: run "npm run build" first (npm run bench does)');

    const first = await timeToReady('npm', ['start'], serviceEnv, health, 120_000);
    await first.stop();

    const restarts = [];
    for (let i = 0; i < RESTARTS; i++) {
      const { ms, stop } = await timeToReady('npm', ['start'], serviceEnv, health);
      restarts.push(ms);
      await stop();
    }

    // p50 of an odd count (3, 5) is the median; max is the slowest.
    const { p50: restartMedian, max: restartMax } = percentiles(restarts);
    const bareMedian = percentiles(bare).p50;
    const ok = restartMax <= TARGET_MS;
    printTable(
      `npm start to GET /health 200, embedded database (${RESTARTS} restarts)`,
      [{ title: 'what' }, { title: 'ms' }, { title: 'over a bare node HTTP server' }, { title: 'target' }, { title: '' }],
      [
        ['bare node -e HTTP server (median of 3)', fmt(bareMedian), '1.0', '', ''],
        ['first start (creates, migrates, seeds)', fmt(first.ms), (first.ms / bareMedian).toFixed(1), '', ''],
        ['restart, median', fmt(restartMedian), (restartMedian / bareMedian).toFixed(1), `<= ${fmt(TARGET_MS)}`, verdict(restartMedian <= TARGET_MS)],
        ['restart, slowest', fmt(restartMax), (restartMax / bareMedian).toFixed(1), `<= ${fmt(TARGET_MS)}`, verdict(ok)],
      ],
    );
    const summary = {
      ok,
      bareMs: Math.round(bareMedian),
      firstStartMs: Math.round(first.ms),
      restartMedianMs: Math.round(restartMedian),
      restartMaxMs: Math.round(restartMax),
      restartsMs: restarts.map(Math.round),
      targets: { restart: ok },
    };
    writeResults('restart', summary);
    return summary;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runWhenMain(import.meta.url, run);
