import type { FastifyInstance, FastifyRequest } from 'fastify';

const COUNTED = Symbol('countedInFlight');
const EXEMPT = new Set(['/health', '/metrics']);

/**
 * Sheds load instead of queueing it: past `maxInFlight` requests being worked on, a new one is answered
 * 503 OVERLOADED with Retry-After at once, before any parsing or database work. Without it, requests queue
 * for a database connection without bound, memory grows, and work continues for clients long gone.
 * Health and metrics stay answerable. 0 disables it.
 */
export function registerLoadShedding(fastify: FastifyInstance, maxInFlight: number, gauge?: { set(value: number): void }): void {
  let inFlight = 0;
  const done = (request: FastifyRequest) => {
    const r = request as FastifyRequest & { [COUNTED]?: boolean };
    if (r[COUNTED]) {
      r[COUNTED] = false;
      gauge?.set(--inFlight);
    }
  };
  if (maxInFlight > 0) {
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
      (request as FastifyRequest & { [COUNTED]?: boolean })[COUNTED] = true;
    });
    fastify.addHook('onResponse', async (request) => done(request));
    // A client that goes away before its answer must not hold a slot.
    fastify.addHook('onRequestAbort', async (request) => done(request));
  }
}
