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
  fastify.addHook('onRequest', async (request, reply) => {
    if (EXEMPT.has(request.url.split('?')[0])) return;
    if (inFlight >= maxInFlight) {
      await reply
        .code(503)
        .header('retry-after', '1')
        .header('content-type', 'application/json; charset=utf-8')
        .send({ statusCode: 503, error: 'OVERLOADED', message: 'The service is at capacity; retry shortly' });
      return reply;
    }
    gauge?.set(++inFlight);
    // The raw response's 'close' fires exactly once, when the answer is sent or the client went away, whatever
    // hooks ran or did not: a slot can never leak (hook-based counting leaked under 2,000 aborting clients).
    reply.raw.once('close', () => gauge?.set(--inFlight));
  });
}
