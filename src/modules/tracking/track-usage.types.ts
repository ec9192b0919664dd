import type { FastifyRequest } from 'fastify';
import type { StreamOption } from '../../../libs/contracts/src/metered-stream';

// What @TrackUsage leaves on a route and what its interceptor reads: a file of its own, so the decorator
// (which names the interceptor) and the interceptor (which reads the metadata) do not import each other.

export const TRACK_USAGE = 'usage:trackUsage';

/** What the decorator's functions may read of a request, on Express as on Fastify. */
export interface MeteredRequest {
  body?: unknown;
  params?: unknown;
  query?: unknown;
  headers: Record<string, string | string[] | undefined>;
  url?: string;
}

/** `R`: the request type the functions receive (Fastify's by default; `TrackUsage<Request>` on Express). */
export interface TrackUsageOptions<R = FastifyRequest> {
  /**
   * `sync` (default): credits are reserved before the handler runs (402 and the handler never runs when they
   * do not fit), committed when it succeeds, released when it throws. `async`: no enforcement; the event is
   * accepted after the handler succeeds and written in the next batch.
   */
  mode?: 'sync' | 'async';
  /** Maps the request to the eventData that prices the event (default: the JSON body). */
  eventData?: (request: R) => Record<string, unknown>;
  /**
   * The organization to charge, from the request (embedded in another application: the host's own notion
   * of the caller, e.g. its session). Unset: the module's `organizationId`; in this service, the API key's.
   * An organization API key's own organization always wins.
   */
  organizationId?: (request: R) => string | undefined;
  /** The member the event is attributed to. Unset: this service reads X-User-Id; embedded, nobody. */
  userId?: (request: R) => string | undefined;
  /** Seconds a synchronous reservation may stay open (default 600). */
  ttlSeconds?: number;
  /**
   * Priced quantities known only once the handler has run (issue 17): maps the handler's result to
   * `eventData.units` (e.g. `(r) => ({ inputTokens: r.usage.input, outputTokens: r.usage.output })`). The
   * commit re-prices the event with them; a bigger price than the hold must still fit.
   */
  units?: (result: unknown) => Record<string, number>;
  /**
   * The quantities the reservation holds before the handler runs: an object, or a function of the request.
   * Without it the hold takes the definition's `maxUnits` (no quantities when it declares none).
   */
  estimate?: Record<string, number> | ((request: R) => Record<string, number>);
  /**
   * The handler answers a stream (an Observable of chunks, an AsyncIterable, a Node Readable): it is sent as
   * Server-Sent Events, held for in steps and charged at the units delivered, with a last `usage` event
   * (docs/streaming.md). `when` says which requests stream (default: all).
   */
  stream?: StreamOption<R, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface TrackUsageMetadata extends TrackUsageOptions<MeteredRequest> {
  eventType: string;
}
