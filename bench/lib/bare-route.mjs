// The bare Fastify JSON POST route measured in the same run as the service (issue 13: "add the bare Fastify
// reference route"): the single-event and batch figures are reported as ratios over its requests/s, so the
// machine's background load moves both sides of each ratio.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { load } from './http.mjs';
import { cpuMeter } from './service.mjs';

const SERVER = join(import.meta.dirname, 'bare-server.mjs');

/** Starts bare-server.mjs as a child process and answers {baseUrl, pid, stop()}. */
export async function startBareRoute() {
  const child = spawn(process.execPath, [SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const baseUrl = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('http://'));
      if (line) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`the bare route exited early (${code})`)));
  });
  return {
    baseUrl,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * The bare route under the same autocannon load as a service run (`connections`, `duration`, a JSON body of
 * the same kind, a path per request): answers load()'s figures plus the cores it used.
 */
export async function measureBareRoute({ connections, duration, body = JSON.stringify({ eventType: 'visuals_planning', eventData: { complexity: 1 } }) }) {
  const bare = await startBareRoute();
  try {
    const headers = { 'content-type': 'application/json' };
    let i = 0;
    const requests = [{ method: 'POST', headers, body, setupRequest: (req) => ({ ...req, path: `/bare/org-${i++ % 50}/events` }) }];
    await load({ url: bare.baseUrl, connections, duration: 1, requests }); // warm-up (JIT)
    const cpu = cpuMeter([bare.pid]);
    const r = await load({ title: `bare Fastify JSON POST route, ${connections} connections`, url: bare.baseUrl, connections, duration, requests });
    r.cpu = await cpu.end();
    return { what: `bare Fastify JSON POST route (no Nest, no database), ${connections} conn`, perS: r.okPerS, result: r };
  } finally {
    await bare.stop();
  }
}
