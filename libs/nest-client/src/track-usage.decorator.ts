import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import type { HttpRequestLike } from './http-request';
import type { StreamOption } from '../../contracts/src/metered-stream';
import { TRACK_USAGE_METADATA } from './track-usage.constants';
import { TrackUsageInterceptor } from './track-usage.interceptor';

export { TRACK_USAGE_METADATA };

/** `R` is the platform's request type (Express `Request`, `FastifyRequest`); all of it is yours to read. */
export interface TrackUsageOptions<R = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The eventData that prices the event (default: the JSON body when it is an object, else `{}`). */
  eventData?: (request: R) => Record<string, unknown>;
  /** The organization to charge (default: the client's `organizationId`, else the API key's organization). */
  organizationId?: (request: R) => string | undefined;
  /** The member the event is attributed to (default: none). */
  userId?: (request: R) => string | undefined;
  /**
   * The agent run to charge (default: the incoming request's `X-Run-Id` header, forwarded as is): the hold
   * and the charge count against the run and every ancestor, and a run out of budget answers 402
   * RUN_BUDGET_EXCEEDED before the handler runs.
   */
  runId?: (request: R) => string | undefined;
  /**
   * `sync` (default): credits are reserved before the handler (402 and the handler never runs when they do
   * not fit), committed when it succeeds, released when it throws. `async`: no check before; after the
   * handler succeeds the event is journaled and tracked in the background (402s then are logged, not charged).
   */
  mode?: 'sync' | 'async';
  /** Seconds the reservation may stay open (default: the service's, 600); a stream's hold is pushed out by as much at each step. */
  ttlSeconds?: number;
  /**
   * The handler answers a stream (an Observable of chunks, an AsyncIterable, a Node Readable): it is sent as
   * Server-Sent Events, held for in steps through the service (reserve, extend), stopped at the limit after
   * the last chunk paid for, and charged the units delivered, with a last `usage` event {creditsConsumed,
   * units, stopReason}. `onUsage` receives the same once it is settled. `when` says which requests stream.
   */
  stream?: StreamOption<R, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface TrackUsageMetadata extends TrackUsageOptions<HttpRequestLike> {
  eventType: string;
}

/**
 * Meters a controller method through the metering service: `@TrackUsage('structuring_diagnose')`.
 * The response gets `usage` (object bodies) and the `X-Credits-Consumed` / `X-Credits-Remaining` headers;
 * the incoming `Idempotency-Key` header, when present, is the charge's key (a retried request is charged
 * once), otherwise each request gets a fresh one. Needs `UsageClientModule.forRoot` in the application.
 */
export function TrackUsage<R = any>(eventType: string, options: TrackUsageOptions<R> = {}): MethodDecorator & ClassDecorator { // eslint-disable-line @typescript-eslint/no-explicit-any
  return applyDecorators(SetMetadata(TRACK_USAGE_METADATA, { eventType, ...options } as TrackUsageMetadata), UseInterceptors(TrackUsageInterceptor));
}
