// A paced (fixed-rate) load generator: request k is sent at t0 + k / rate, whatever the answers before it,
// so the latency measured is what a caller sees at that rate, not at saturation (autocannon's closed loop
// measures the latter, and its histogram counts whole milliseconds: too coarse for a 1 ms median).
import http from 'node:http';
import { percentiles, round } from './http.mjs';

/**
 * Calls `send(i)` (a promise of true = success) at `rate` per second for `seconds`, at most `concurrency` in
 * flight (a call due while all are busy waits for one and its latency counts from when it was due to be
 * handed over: the queueing a caller would see). Answers latency percentiles (ms, from hand-over to
 * settlement), how late the sender was against the schedule (the machine's own scheduling noise), the rate
 * reached and the failures.
 */
export async function paced({ rate, seconds, concurrency = Infinity, send }) {
  const total = Math.max(1, Math.round(rate * seconds));
  const interval = 1000 / rate;
  const latencies = [];
  const late = [];
  let failed = 0;
  let inFlight = 0;
  const slots = [];
  const acquire = () => (inFlight < concurrency ? (inFlight++, Promise.resolve()) : new Promise((r) => slots.push(r)));
  const release = () => (slots.length > 0 ? slots.shift()() : inFlight--);
  const pending = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + i * interval;
    // A timer, not a spin: a spinning sender would take a core from the service on this 2-core machine. The
    // timer may fire up to ~1 ms late; that shifts when a request leaves (reported), not its latency.
    if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
    const now = performance.now();
    late.push(now - due);
    const handed = now;
    pending.push(
      acquire().then(async () => {
        try {
          if (await send(i)) latencies.push(performance.now() - handed);
          else failed++;
        } catch {
          failed++;
        } finally {
          release();
        }
      }),
    );
  }
  await Promise.all(pending);
  const elapsedS = (performance.now() - t0) / 1000;
  return { rate, seconds, sent: total, ok: latencies.length, failed, reachedPerS: round(total / elapsedS, 1), latencyMs: percentiles(latencies), lateMs: percentiles(late) };
}

/**
 * `paced` over HTTP: POSTs `request(i)` = {url, headers, body} through a keep-alive agent of `connections`
 * sockets (node:http queues a request while every socket is busy: that wait is part of its latency).
 */
export async function pacedHttp({ rate, seconds, connections = 4, request }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  try {
    return await paced({
      rate,
      seconds,
      send: (i) => {
        const { url, headers, body } = request(i);
        return new Promise((resolve, reject) => {
          const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
            res.on('data', () => {});
            res.on('end', () => resolve(res.statusCode >= 200 && res.statusCode < 300));
            res.on('error', reject);
          });
          req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
          req.on('error', reject);
          req.end(body);
        });
      },
    });
  } finally {
    agent.destroy();
  }
}
