/**
 * What the decorator reads of a request, on Express (`req.route.path`, `req.originalUrl`) and on Fastify
 * (`req.routeOptions.url`): both expose `headers` (lower-case names), `params` and a parsed `body`.
 */
export interface HttpRequestLike {
  headers: Record<string, string | string[] | undefined>;
  params?: Record<string, string>;
  body?: unknown;
  url?: string;
  originalUrl?: string;
  route?: { path?: string };
  routeOptions?: { url?: string };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** The first value of a header, or undefined when absent or empty. */
export function headerValue(request: HttpRequestLike, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first.length > 0 ? first : undefined;
}

/** The route's pattern (`/ai/:id`), not the concrete URL, when the platform tells it. */
export function routePath(request: HttpRequestLike): string | undefined {
  return request.routeOptions?.url ?? request.route?.path ?? request.originalUrl ?? request.url;
}
