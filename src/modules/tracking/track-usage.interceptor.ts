import { CallHandler, ExecutionContext, Inject, Injectable, Logger, NestInterceptor, Optional, StreamableFile } from '@nestjs/common';
import { Readable } from 'node:stream';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { from, Observable, of } from 'rxjs';
import { mergeMap, catchError } from 'rxjs/operators';
import { PRINCIPAL_KEY } from '../../common/auth/principal';
import type { DirectInterceptor } from '../../common/http/direct-routes';
import { Clock } from '../../common/clock/clock';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { toHttpError } from '../../common/errors/domain-http.exception';
import { isPlainObject } from '../../common/validation/json-validators';
import { ReservationsService } from '../usage/reservations.service';
import { UsageTracker } from '../usage/usage-tracker.service';
import type { TrackInput } from '../usage/usage.types';
import { requestContext } from './utils/request-context';
import type { PlatformRequest as ContextRequest } from './utils/request-context';
import { assertEventDataSize, parseIdempotencyHeader } from '../usage/utils/track-input';
import { AsyncUsageBuffer } from './async-usage-buffer.service';
import { TRACK_USAGE } from './track-usage.types';
import type { MeteredRequest, TrackUsageMetadata } from './track-usage.types';
import { EMBEDDED_TRACKING } from './tracking-options';
import type { EmbeddedTracking } from './tracking-options';

/** A request as both platforms give it, with what the decorator's functions read of it. */
type PlatformRequest = MeteredRequest & ContextRequest;

// One shape for the service's own routes and the client package's decorator (libs/contracts).
export type { UsageEnvelope } from '../../../libs/contracts/src/tracking.types';
import type { UsageEnvelope } from '../../../libs/contracts/src/tracking.types';
import { replayDecision, usageOfCharge, withUsage } from '../../../libs/contracts/src/idempotent-replay';
import { meteredCall } from '../../../libs/contracts/src/metered-call';
import { ERROR_STATUS } from '../../../libs/contracts/src/error-codes';
import { chunksOf, MeteredStream, sseOf, streamMeteringFor, whenClosed } from '../../../libs/contracts/src/metered-stream';
import type { MeteredItem, MeteredStreamPort, StreamMetering } from '../../../libs/contracts/src/metered-stream';
import type { ReservationResult } from '../../../libs/contracts/src/tracking.types';

/**
 * The metering around a `@TrackUsage` handler. Synchronous mode reserves before the handler (so a 402 means
 * the work never ran), commits after it succeeds and releases when it throws: the client gets the handler's
 * own error and is not charged. One reservation and one commit transaction per request.
 */
@Injectable()
export class TrackUsageInterceptor implements NestInterceptor, DirectInterceptor {
  private readonly logger = new Logger(TrackUsageInterceptor.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly reservations: ReservationsService,
    private readonly buffer: AsyncUsageBuffer,
    private readonly tracker: UsageTracker,
    private readonly adapterHost: HttpAdapterHost,
    private readonly clock: Clock,
    @Optional() @Inject(EMBEDDED_TRACKING) private readonly embedded?: EmbeddedTracking,
  ) {}

  /**
   * Metering's own failures (402, 404, 400…) leave as HttpExceptions carrying the error body of docs/api.md, so a
   * host application without this service's exception filter answers them with their status; the
   * handler's own errors pass through untouched.
   */
  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    try {
      return await this.meter(context, next);
    } catch (error) {
      throw toHttpError(error);
    }
  }

  private async meter(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const meta = this.reflector.get<TrackUsageMetadata | undefined>(TRACK_USAGE, context.getHandler());
    if (!meta) return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<PlatformRequest>();
    const reply = http.getResponse<unknown>();
    const input = this.inputFor(meta, request);

    if (meta.mode === 'async') {
      const accept = await this.prepareAsync(meta, input, reply);
      return next.handle().pipe(mergeMap((body) => from(accept(body))));
    }

    if (meta.stream && (meta.stream.when?.(request) ?? true)) {
      return this.meterStream(context, next, reply, input, streamMeteringFor(meta.stream, request), meta.ttlSeconds);
    }

    const reservation = await this.reservations.reserve(input, meta.ttlSeconds);
    const status = this.statusOf(context);
    // The protocol both @TrackUsage share (libs/contracts/src/metered-call.ts), its port calling the
    // reservations in process: a replay never runs the handler, a failed handler releases the hold.
    const call = meteredCall(reservation, {
      idempotencyKey: input.idempotencyKey,
      now: () => this.clock.now(),
      replay: (decision) => {
        this.adapterHost.httpAdapter.setHeader(reply, 'idempotent-replayed', 'true');
        return this.respond(reply, decision.answer.body, decision.answer.usage);
      },
      refuse: (decision) => {
        if (decision.retryAfterSeconds !== undefined) this.adapterHost.httpAdapter.setHeader(reply, 'retry-after', String(decision.retryAfterSeconds));
        throw new DomainError(decision.error.error, decision.error.message, decision.error.details);
      },
      commit: async (body) => this.respond(reply, body, await this.settle(meta, input, body, reservation.reservationId, status)),
      release: async () => {
        await this.reservations.release(input.organizationId, reservation.reservationId).catch((e: Error) => {
          // Already settled or expired: nothing is held any more; the sweep covers anything else.
          if (!(e instanceof DomainError)) this.logger.warn(`Release after a failed handler failed: ${e.message}`);
        });
      },
      chargeFailed: (error) => toHttpError(error),
    });
    if (call.kind === 'replay') return of(call.answer);
    return next.handle().pipe(
      mergeMap((body) => call.settle(body)),
      catchError((error: unknown) => call.fail(error)),
    );
  }

  /**
   * Asynchronous mode: the event is validated and priced before the handler runs (with the estimate when there
   * is one); the function returned stores it after the handler succeeded (quantities from the result are
   * priced again first) and gives the answer.
   */
  private async prepareAsync(meta: TrackUsageMetadata, input: TrackInput, reply: unknown): Promise<(body: unknown) => Promise<unknown>> {
    const queued = await this.buffer.prepare(input);
    return (body) =>
      (meta.units ? this.buffer.prepare(this.finalInput(meta, input, body)) : Promise.resolve(queued))
        .then((q) => this.buffer.enqueue(q))
        .then((usage) => this.respond(reply, body, usage));
  }

  /** Whether a route can be metered by interceptDirect: the asynchronous mode (see DirectInterceptor). */
  supportsDirect(handler: object): boolean {
    return this.reflector.get<TrackUsageMetadata | undefined>(TRACK_USAGE, handler as () => unknown)?.mode === 'async';
  }

  /**
   * The metering of an asynchronous route for a @DirectRoute (common/http/direct-routes.ts): the same steps
   * and errors as intercept() (metering's own failures before the handler as HttpExceptions, the handler's
   * and the storing's as they are), with promises instead of rxjs.
   */
  async interceptDirect(context: ExecutionContext, handle: () => Promise<unknown>): Promise<unknown> {
    let accept: (body: unknown) => Promise<unknown>;
    try {
      const meta = this.reflector.get<TrackUsageMetadata | undefined>(TRACK_USAGE, context.getHandler());
      if (meta?.mode !== 'async') throw new Error('interceptDirect meters asynchronous @TrackUsage routes only');
      const http = context.switchToHttp();
      accept = await this.prepareAsync(meta, this.inputFor(meta, http.getRequest<PlatformRequest>()), http.getResponse<unknown>());
    } catch (error) {
      throw toHttpError(error);
    }
    return accept(await handle());
  }

  /**
   * A streamed answer (docs/streaming.md), metered by the protocol both @TrackUsage share
   * (libs/contracts/src/metered-stream.ts), its port calling the reservations in process. The handler's
   * failure before its first chunk is answered as the error it is (the hold released); after, the stream
   * ends with its `usage` event.
   */
  private async meterStream(context: ExecutionContext, next: CallHandler, reply: unknown, input: TrackInput, metering: StreamMetering, ttlSeconds?: number): Promise<Observable<unknown>> {
    const { units: _held, ...base } = input.eventData ?? {};
    const organizationId = input.organizationId;
    let reservationId = '';
    const port: MeteredStreamPort<ReservationResult> = {
      hold: async (units) => {
        const r = await this.reservations.reserve({ ...input, eventData: { ...base, units } }, ttlSeconds);
        reservationId = r.reservationId;
        return r;
      },
      extend: (units, delivered) => this.reservations.extend(organizationId, reservationId, { ...base, units }, ttlSeconds, delivered && { ...base, units: delivered }),
      settle: async (units, stopReason) => {
        if (stopReason === 'error' && stream.failure) this.logger.warn(`A metered stream failed mid-way (charged what it delivered): ${describe(stream.failure.error)}`);
        // The stop reason goes with the event's data: the event log says how the stream ended. A stream is
        // never kept as an answer: a replay of its key is 409 IDEMPOTENCY_REPLAYED with this charge.
        const r = await this.reservations.commit(organizationId, reservationId, { ...base, units, stopReason }, { status: this.statusOf(context), unstorable: 'not_json' });
        return { creditsConsumed: r.creditsConsumed };
      },
      release: async () => {
        await this.reservations.release(organizationId, reservationId);
      },
      isRefusal: (error) => error instanceof DomainError && ERROR_STATUS[error.code] === 402,
      now: () => this.clock.now().getTime(),
    };
    const stream = new MeteredStream(metering, port);
    const hold = await stream.open();
    const decision = replayDecision(hold, input.idempotencyKey, this.clock.now());
    if (decision.kind === 'replay') {
      this.adapterHost.httpAdapter.setHeader(reply, 'idempotent-replayed', 'true');
      return of(this.respond(reply, decision.answer.body, decision.answer.usage));
    }
    if (decision.kind === 'refuse') {
      if (decision.retryAfterSeconds !== undefined) this.adapterHost.httpAdapter.setHeader(reply, 'retry-after', String(decision.retryAfterSeconds));
      throw new DomainError(decision.error.error, decision.error.message, decision.error.details);
    }
    // The client going away is seen on the response itself, not only when the next chunk is pulled.
    whenClosed(reply, () => stream.abort());
    const items = stream.run(chunksOf(next.handle()));
    const first = await items.next();
    if (stream.failure && !stream.started) throw stream.failure.error;
    const adapter = this.adapterHost.httpAdapter;
    adapter.setHeader(reply, 'cache-control', 'no-cache');
    adapter.setHeader(reply, 'x-accel-buffering', 'no');
    adapter.setHeader(reply, 'x-reservation-id', reservationId);
    // highWaterMark 1: a chunk is pulled from the handler only when the one before was handed to the
    // response, so a client that goes away stops the count there, not a buffer further on.
    const body = Readable.from(sseOf(prepend(first, items)), { objectMode: false, highWaterMark: 1 });
    return of(new StreamableFile(body, { type: 'text/event-stream' }));
  }

  /** The status the route answers with (@HttpCode, else Nest's default: 201 for a POST), kept with the answer. */
  private statusOf(context: ExecutionContext): number {
    const code = this.reflector.get<unknown>(HTTP_CODE_METADATA, context.getHandler());
    if (typeof code === 'number') return code;
    return context.switchToHttp().getRequest<{ method?: string }>().method === 'POST' ? 201 : 200;
  }

  /**
   * Charges the work that just ran, and keeps its answer with the key. A hold that expired while the
   * handler ran (it outlived the TTL) is charged directly, enforced like an asynchronous event: if it no
   * longer fits it is kept as a refused event, never charged past the cap (its answer is not kept).
   */
  private async settle(meta: TrackUsageMetadata, held: TrackInput, body: unknown, reservationId: string, status: number): Promise<UsageEnvelope> {
    let input = held;
    try {
      input = this.finalInput(meta, held, body);
      // With quantities from the result, the commit re-prices with them (the hold was the estimate); the
      // answer goes with it, kept with the key for a replay.
      const result = await this.reservations.commit(input.organizationId, reservationId, meta.units ? input.eventData : undefined, { status, body });
      return usageOfCharge(result);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'RESERVATION_SETTLED') {
        // Committed already (this request's own commit, whose answer was lost): the charge it made.
        if (error.details?.status === 'committed' && typeof error.details.creditsConsumed === 'number') {
          const d = error.details;
          return { eventId: d.eventId as string, eventType: meta.eventType, creditsConsumed: d.creditsConsumed as number, remainingCredits: null, overageCredits: (d.overageCredits as number | undefined) ?? 0, warnings: [], mode: 'sync' };
        }
        if (error.details?.status === 'expired') {
          const [item] = await this.tracker.trackAsync(input.organizationId, [{ ...input, idempotencyKey: undefined }], 'expired_hold');
          if (item.status !== 'rejected') return usageOfCharge(item.result);
        }
      }
      if (error instanceof DomainError && error.code === 'VALIDATION_FAILED') {
        // The quantities the handler reported do not price (an unknown unit, a negative count): nothing is
        // charged, and the hold goes back now rather than at its expiry.
        await this.reservations.release(held.organizationId, reservationId).catch(() => undefined);
      }
      // The handler succeeded: the protocol keeps this from turning into a release, and answers with it.
      throw error;
    }
  }

  /**
   * The event as it is charged: the held input with the quantities the handler's result reports
   * (`units` option). A mapper that throws or returns something else than an object is a 400 (the
   * calculator checks every quantity).
   */
  private finalInput(meta: TrackUsageMetadata, input: TrackInput, body: unknown): TrackInput {
    if (!meta.units) return input;
    let units: unknown;
    try {
      units = meta.units(body);
    } catch {
      throw validationFailed({ 'eventData.units': ['the units option could not read the quantities from the result'] });
    }
    if (!isPlainObject(units)) throw validationFailed({ 'eventData.units': ['the units option must return an object of unit name -> quantity'] });
    return { ...input, eventData: { ...(input.eventData ?? {}), units } };
  }

  private inputFor(meta: TrackUsageMetadata, request: PlatformRequest): TrackInput {
    const organizationId = this.organizationOf(meta, request);
    let eventData = meta.eventData ? meta.eventData(request) : isPlainObject(request.body) ? request.body : {};
    if (!isPlainObject(eventData)) throw validationFailed({ body: ['the request body must be a JSON object'] });
    if (meta.estimate) {
      // The hold's quantities; without an estimate the reservation holds the definition's maxUnits.
      const estimate = typeof meta.estimate === 'function' ? meta.estimate(request) : meta.estimate;
      if (!isPlainObject(estimate)) throw validationFailed({ 'eventData.units': ['the estimate option must give an object of unit name -> quantity'] });
      eventData = { ...eventData, units: estimate };
    } else if (meta.units && 'units' in eventData) {
      // The quantities come from the result, never from the caller's body: the caller must not set the hold.
      const { units: _ignored, ...rest } = eventData;
      eventData = rest;
    }
    assertEventDataSize(eventData);
    // Embedded, nothing of the incoming request names the member unless the route says how.
    const userId = meta.userId ? meta.userId(request) : this.embedded ? undefined : request.headers['x-user-id'];
    const key = parseIdempotencyHeader(request.headers['idempotency-key']);
    return {
      organizationId,
      eventType: meta.eventType,
      eventData,
      userId: typeof userId === 'string' && userId.length > 0 ? userId.slice(0, 128) : undefined,
      idempotencyKey: key,
      context: requestContext(request),
    };
  }

  /**
   * Who pays: an organization API key's own organization; else the route's or the module's resolver. Only
   * in this service (whose guard has let the admin key through) may the request name it itself, by the
   * `:orgId` parameter or X-Organization-Id: embedded in a host, whoever can reach the route could
   * otherwise charge any organization.
   */
  private organizationOf(meta: TrackUsageMetadata, request: PlatformRequest): string {
    const principal = request[PRINCIPAL_KEY];
    if (principal?.kind === 'organization') return principal.organizationId;
    const resolved = meta.organizationId?.(request) ?? this.embedded?.organizationId?.(request);
    if (resolved) return resolved;
    if (this.embedded) throw validationFailed({ organizationId: ['this route does not name the organization to charge (organizationId on @TrackUsage or on UsageTrackingModule.forRoot)'] });
    const param = (request.params as Record<string, string> | undefined)?.orgId;
    const header = request.headers['x-organization-id'];
    const named = param ?? (typeof header === 'string' ? header : undefined);
    if (!named) throw validationFailed({ 'X-Organization-Id': ['name the organization to charge (X-Organization-Id), or use an organization API key'] });
    return named;
  }

  private respond(reply: unknown, body: unknown, usage: UsageEnvelope): unknown {
    // Through the platform's adapter: Fastify's reply and Express's response set headers differently.
    const adapter = this.adapterHost.httpAdapter;
    adapter.setHeader(reply, 'x-credits-consumed', String(usage.creditsConsumed));
    if (usage.remainingCredits !== null) adapter.setHeader(reply, 'x-credits-remaining', String(usage.remainingCredits));
    return withUsage(body, usage);
  }
}

/** The metered items with the first one (already pulled) in front. */
async function* prepend<C>(first: IteratorResult<MeteredItem<C>, void>, rest: AsyncGenerator<MeteredItem<C>, void, undefined>): AsyncGenerator<MeteredItem<C>, void, undefined> {
  if (first.done) return;
  try {
    yield first.value;
    yield* rest;
  } finally {
    // Closed early (the client went away): the protocol's generator settles by the disconnect policy.
    await rest.return(undefined);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
