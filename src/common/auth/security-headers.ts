import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';
import type { HelmetOptions } from 'helmet';

/**
 * The headers helmet's middleware sets with these options, computed once. With static options (ours: the
 * defaults, no CSP nonces, no directive functions) every response gets the same set, so building helmet's
 * middleware and parsing its CSP directives per request (what @fastify/helmet did: about 8 % of the
 * service's CPU on a trivial route) buys nothing. Throws if the middleware does anything but set or remove
 * headers: then the set would not be static and must not be precomputed.
 */
export function helmetHeaders(options: Readonly<HelmetOptions> = {}): ReadonlyArray<readonly [string, string]> {
  const headers: Array<[string, string]> = [];
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers.push([name, Array.isArray(value) ? value.join(', ') : String(value)]);
    },
    // X-Powered-By: nothing in Fastify sets it; removing it from a fresh response is a no-op.
    removeHeader: () => undefined,
  };
  let failed: unknown;
  helmet(options)({} as never, response as never, (error?: unknown) => {
    failed = error;
  });
  if (failed) throw failed instanceof Error ? failed : new Error(String(failed));
  return headers;
}

/**
 * Helmet's security headers on every response (routes, 404s and Fastify's own errors alike), set on the raw
 * response in an onRequest hook exactly as @fastify/helmet did: headers a route sets itself (the dashboard's
 * own Content-Security-Policy) still win, since Node gives writeHead's headers precedence over setHeader's.
 */
export function registerSecurityHeaders(fastify: FastifyInstance, options: Readonly<HelmetOptions> = {}): void {
  const headers = helmetHeaders(options);
  // Callback style: an async hook costs a promise per request for work that never waits.
  fastify.addHook('onRequest', (_request, reply, done) => {
    const raw = reply.raw;
    for (let i = 0; i < headers.length; i++) raw.setHeader(headers[i][0], headers[i][1]);
    done();
  });
}
