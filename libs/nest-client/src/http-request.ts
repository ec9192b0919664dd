/**
 * What the decorator reads of a request by itself: Express and Fastify requests both have `headers` (with
 * lower-case names), `params` and the parsed `body`. The option callbacks get the platform's whole request.
 */
export interface HttpRequestLike {
  headers: Record<string, string | string[] | undefined>;
  params?: Record<string, string>;
  body?: unknown;
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

