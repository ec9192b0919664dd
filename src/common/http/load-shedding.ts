import type { FastifyInstance } from 'fastify';

const EXEMPT = new Set(['/health', '/metrics']);

/**
 * Sheds load instead of queueing it: past `maxInFlight` requests being worked on, a new one is answered
 * 503 OVERLOADED with Retry-After at once, before any parsing or database work. Without it, requests queue
 * for a database connection without bound, memory grows, and work continues for clients long gone.
 * Health and metrics stay answerable. 0 disables it.
 */
export function registerLoadShedding(fastify: FastifyInstance, maxInFlight: number, gauge?: { set(value: number): void }): void {
  if (maxInFlight <= 0) return;
  let inFlight = 0;
  // Callback style: an async hook costs a promise per request, for a check that never waits.
  fastify.addHook('onRequest', (request, reply, done) => {
    if (EXEMPT.has(pathOf(request.url))) return done();
    if (inFlight >= maxInFlight) {
      // Answered here; not calling done() ends the request's hooks (Fastify's early response from a hook).
      reply
        .code(503)
        .header('retry-after', '1')
        .header('content-type', 'application/json; charset=utf-8')
        .send({ statusCode: 503, error: 'OVERLOADED', message: 'The service is at capacity; retry shortly' });
      return;
    }
    gauge?.set(++inFlight);
    // The raw response's 'close' fires exactly once, when the answer is sent or the client went away, whatever
    // hooks ran or did not: a slot can never leak (hook-based counting leaked under 2,000 aborting clients).
    reply.raw.once('close', () => gauge?.set(--inFlight));
    done();
  });
}

/** The path of a request target, without its query string. */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
