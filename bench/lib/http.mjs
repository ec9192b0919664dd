// HTTP from the benchmarks: a small admin client (fetch) and autocannon runs reduced to the figures we report.
import http from 'node:http';
import autocannon from 'autocannon';
import { ADMIN_KEY } from './service.mjs';

export const ADMIN_HEADERS = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };

/**
 * One request with the admin key; answers {status, body, ms}. Throws unless the status is in `expect`.
 * Uses node:http with no client timeout, because a job run on 10 M events may take longer than fetch's 300 s.
 */
export function api(baseUrl, method, path, body, { expect = [200, 201], headers = {} } = {}) {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...ADMIN_HEADERS, ...headers, ...(payload ? { 'content-length': Buffer.byteLength(payload) } : {}) }, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = text;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          // not JSON
        }
        const result = { status: res.statusCode, body: parsed, ms: performance.now() - started };
        if (expect && !expect.includes(res.statusCode)) reject(Object.assign(new Error(`${method} ${path} answered ${res.statusCode}: ${text.slice(0, 500)}`), result));
        else resolve(result);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** Creates organizations through the admin API (the real path), a few at a time. */
export async function createOrganizations(baseUrl, ids, plan = 'enterprise') {
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) await api(baseUrl, 'POST', '/api/admin/organizations', { id, name: `Bench ${id}`, plan });
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return ids;
}

/**
 * Runs autocannon and keeps what the reports need. `opts` are autocannon's own (url, connections, duration,
 * requests, pipelining, overallRate, timeout…). Latencies in ms; `rps` counts every answer, `ok` the 2xx.
 */
export async function load(opts) {
  const instance = autocannon({ connections: 50, duration: 10, ...opts });
  const result = await instance;
  const codes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, v]) => [code, v.count]));
  const seconds = result.duration;
  const total = result.requests.total;
  return {
    title: opts.title,
    connections: result.connections,
    pipelining: result.pipelining,
    durationS: round(seconds, 2),
    requests: total,
    rps: round(total / seconds, 0),
    ok: result['2xx'],
    okPerS: round(result['2xx'] / seconds, 0),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    resets: result.resets,
    statusCodes: codes,
    latencyMs: {
      mean: round(result.latency.average, 2),
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
  };
}

export function round(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** p50/p99/max of a list of durations (ms). */
export function percentiles(values) {
  if (values.length === 0) return { n: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { n: sorted.length, p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]), mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length) };
}
