import { CallHandler, ExecutionContext, HttpException, Inject, Injectable, Logger, NestInterceptor, StreamableFile } from '@nestjs/common';
import { Readable } from 'node:stream';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { Observable, of } from 'rxjs';
import { catchError, mergeMap } from 'rxjs/operators';
import type { ReservationResult, UsageEnvelope } from '../../contracts/src/tracking.types';
import { DEFAULT_IDEMPOTENT_RESPONSE_MAX_BYTES, firstAnswer, replayDecision, usageOfCharge, withUsage } from '../../contracts/src/idempotent-replay';
import type { FirstAnswer } from '../../contracts/src/idempotent-replay';
import { meteredCall } from '../../contracts/src/metered-call';
import { chunksOf, MeteredStream, sseOf, streamMeteringFor, whenClosed } from '../../contracts/src/metered-stream';
import type { MeteredItem, MeteredStreamPort, StreamMetering } from '../../contracts/src/metered-stream';
import { headerValue, isPlainObject } from './http-request';
import type { HttpRequestLike } from './http-request';
import { isMeteringError, MeteringError, MeteringUnavailableError } from './metering-error';
import { TRACK_USAGE_METADATA } from './track-usage.constants';
import type { TrackUsageMetadata } from './track-usage.decorator';
import { UsageClient } from './usage-client';
import type { UsageEventInput } from './usage-client';
import { USAGE_CLIENT_OPTIONS } from './usage-client.options';
import type { UsageClientModuleOptions } from './usage-client.options';
import { UsageDeliveryService } from './usage-delivery.service';

type Event = UsageEventInput & { idempotencyKey: string };
type RequestEvent = Event & { generatedKey: boolean };

/**
 * The metering around a `@TrackUsage` handler, through the service's reservations API: reserve before the
 * handler (a 402 answers before it runs), commit after it succeeds, release when it throws. The service's
 * errors reach the host's client with their status and body.
 */
@Injectable()
export class TrackUsageInterceptor implements NestInterceptor {
  private readonly logger = new Logger('TrackUsage');

  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(UsageClient) private readonly client: UsageClient,
    @Inject(UsageDeliveryService) private readonly delivery: UsageDeliveryService,
    @Inject(USAGE_CLIENT_OPTIONS) private readonly options: UsageClientModuleOptions,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const meta = this.reflector.get<TrackUsageMetadata | undefined>(TRACK_USAGE_METADATA, context.getHandler()) ?? this.reflector.get<TrackUsageMetadata | undefined>(TRACK_USAGE_METADATA, context.getClass());
    if (!meta) return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<HttpRequestLike>();
    const response = http.getResponse<unknown>();
    const { generatedKey, ...event } = this.eventFor(meta, request);
    const organizationId = meta.organizationId?.(request) ?? this.options.organizationId;
    const startedAt = new Date().toISOString();

    if (meta.mode === 'async') {
      return next.handle().pipe(
        mergeMap(async (body) => {
          this.delivery.defer({ kind: 'track', organizationId, input: event, occurredAt: startedAt });
          return this.respond(response, body, envelope(meta.eventType, 'async'));
        }),
      );
    }

    if (meta.stream && (meta.stream.when?.(request) ?? true)) {
      return this.meterStream(context, next, response, organizationId, event, generatedKey, streamMeteringFor(meta.stream, request), meta.ttlSeconds);
    }

    let hold: ReservationResult;
    try {
      hold = await this.client.reserve({ ...event, organizationId, ttlSeconds: meta.ttlSeconds });
    } catch (error) {
      if (!(error instanceof MeteringUnavailableError) || this.options.failMode !== 'open') throw toHttp(error);
      this.logger.warn(`Metering service unreachable (${String(error.body.details?.cause)}): running ${meta.eventType} and journaling its event`);
      return next.handle().pipe(
        mergeMap(async (body) => {
          this.delivery.defer({ kind: 'reserve', organizationId, input: event, occurredAt: startedAt });
          return this.respond(response, body, envelope(meta.eventType, 'deferred'));
        }),
      );
    }

    // The reserve/settle protocol, shared with the service's own @TrackUsage (libs/contracts/src/metered-call.ts):
    // a key used before never runs the handler again. A duplicate under a key this interceptor made (no
    // Idempotency-Key came in) can only be its own retried reserve whose first answer was lost: that
    // pending hold is this request's.
    const status = statusOf(this.reflector, context);
    const adapter = this.adapterHost.httpAdapter;
    const call = meteredCall(hold, {
      idempotencyKey: event.idempotencyKey,
      ownRetry: generatedKey && hold.status === 'pending',
      now: () => new Date(),
      replay: (decision) => {
        adapter.setHeader(response, 'Idempotent-Replayed', 'true');
        return this.respond(response, decision.answer.body, decision.answer.usage);
      },
      refuse: (decision) => {
        if (decision.retryAfterSeconds !== undefined) adapter.setHeader(response, 'Retry-After', String(decision.retryAfterSeconds));
        throw new HttpException(decision.error, decision.error.statusCode);
      },
      commit: async (body) => this.respond(response, body, await this.settle(organizationId, hold, event, startedAt, firstAnswer(status, body, this.options.maxAnswerBytes ?? DEFAULT_IDEMPOTENT_RESPONSE_MAX_BYTES))),
      release: async () => {
        // Not charged for work that failed. A release that cannot reach the service is left to the hold's
        // expiry (the service's sweep gives the credits back after ttlSeconds).
        await this.client.release(hold.reservationId, { organizationId }).catch((e: Error) => {
          if (!isMeteringError(e, 'RESERVATION_SETTLED')) this.logger.warn(`Release after a failed handler failed: ${e.message}`);
        });
      },
      chargeFailed: (error) => toHttp(error),
    });
    if (call.kind === 'replay') return of(call.answer);
    return next.handle().pipe(
      mergeMap((body) => call.settle(body)),
      catchError((error: unknown) => call.fail(error)),
    );
  }

  /**
   * A streamed answer (the service's docs/streaming.md): the protocol the service's own @TrackUsage uses
   * (libs/contracts/src/metered-stream.ts), its port calling the reservations API. The service must be
   * reachable to hold each step: a stream never sends output it could not hold for, whatever the failMode.
   */
  private async meterStream(context: ExecutionContext, next: CallHandler, response: unknown, organizationId: string | undefined, event: Event, generatedKey: boolean, metering: StreamMetering, ttlSeconds?: number): Promise<Observable<unknown>> {
    const { units: _held, ...base } = event.eventData ?? {};
    const startedAt = new Date().toISOString();
    let reservationId = '';
    const port: MeteredStreamPort<ReservationResult> = {
      hold: async (units) => {
        const r = await this.client.reserve({ ...event, eventData: { ...base, units }, organizationId, ttlSeconds });
        reservationId = r.reservationId;
        return r;
      },
      extend: (units, delivered) =>
        this.client.extend(reservationId, { organizationId, eventData: { ...base, units }, delivered: delivered && { ...base, units: delivered }, ttlSeconds, idempotencyKey: event.idempotencyKey }),
      settle: async (units, stopReason) => {
        const eventData = { ...base, units, stopReason };
        try {
          // A stream is never kept as an answer: a replay of its key is 409 IDEMPOTENCY_REPLAYED with this charge.
          const r = await this.client.commit(reservationId, { organizationId, idempotencyKey: event.idempotencyKey, eventData, response: { status: statusOf(this.reflector, context), unstorable: 'not_json' }, runId: event.runId });
          return { creditsConsumed: r.creditsConsumed };
        } catch (error) {
          if (!(error instanceof MeteringUnavailableError)) throw error;
          // The output went out and was held for: the charge is journaled and delivered under the same key.
          this.delivery.defer({ kind: 'reserve', organizationId, input: { ...event, eventData }, occurredAt: startedAt, reservationId });
          return { creditsConsumed: null };
        }
      },
      release: async () => {
        await this.client.release(reservationId, { organizationId });
      },
      isRefusal: (error) => error instanceof MeteringError && error.status === 402,
      now: () => Date.now(),
    };
    const stream = new MeteredStream(metering, port);
    let hold: ReservationResult;
    try {
      hold = await stream.open();
    } catch (error) {
      throw toHttp(error);
    }
    const decision = replayDecision(hold, event.idempotencyKey, new Date(), generatedKey && hold.status === 'pending');
    const adapter = this.adapterHost.httpAdapter;
    if (decision.kind === 'replay') {
      adapter.setHeader(response, 'Idempotent-Replayed', 'true');
      return of(this.respond(response, decision.answer.body, decision.answer.usage));
    }
    if (decision.kind === 'refuse') {
      if (decision.retryAfterSeconds !== undefined) adapter.setHeader(response, 'Retry-After', String(decision.retryAfterSeconds));
      throw new HttpException(decision.error, decision.error.statusCode);
    }
    // The client going away is seen on the response itself, not only when the next chunk is pulled: a
    // handler whose stream the platform closes with the response would otherwise look complete.
    whenClosed(response, () => stream.abort());
    const items = stream.run(chunksOf(next.handle()));
    const first = await items.next();
    // The handler failed before its first chunk: its own error, as for a plain call (the hold was released).
    if (stream.failure && !stream.started) throw stream.failure.error;
    adapter.setHeader(response, 'Cache-Control', 'no-cache');
    adapter.setHeader(response, 'X-Accel-Buffering', 'no');
    adapter.setHeader(response, 'X-Reservation-Id', reservationId);
    // highWaterMark 1: the next chunk is pulled only once the one before was handed to the response.
    const body = Readable.from(sseOf(prepend(first, items)), { objectMode: false, highWaterMark: 1 });
    return of(new StreamableFile(body, { type: 'text/event-stream' }));
  }

  /**
   * Charges the work that just ran. A commit that cannot reach the service, or finds the hold expired (the
   * handler outlived the TTL), is journaled and delivered later under the same key: the work is charged
   * once, whatever the mode. The route's answer goes with the commit: the service keeps it with the key
   * for a replay.
   */
  private async settle(organizationId: string | undefined, hold: ReservationResult, event: Event, startedAt: string, answer: FirstAnswer): Promise<UsageEnvelope> {
    try {
      return usageOfCharge(await this.client.commit(hold.reservationId, { organizationId, idempotencyKey: event.idempotencyKey, response: answer, runId: event.runId }));
    } catch (error) {
      if (isMeteringError(error, 'RESERVATION_SETTLED') && error.body.details?.status === 'committed') {
        // Committed already: by this request's own commit whose answer was lost (the client retried it).
        // The service says what that commit charged: this request reports it, not 0.
        const d = error.body.details;
        return { ...envelope(event.eventType, 'sync'), eventId: (d.eventId as string | undefined) ?? null, creditsConsumed: typeof d.creditsConsumed === 'number' ? d.creditsConsumed : null, overageCredits: typeof d.overageCredits === 'number' ? d.overageCredits : 0 };
      }
      if (error instanceof MeteringUnavailableError || (isMeteringError(error, 'RESERVATION_SETTLED') && error.body.details?.status === 'expired')) {
        this.delivery.defer({ kind: 'reserve', organizationId, input: event, occurredAt: startedAt, reservationId: hold.reservationId });
        return envelope(event.eventType, 'deferred');
      }
      // The handler succeeded: the protocol keeps this from turning into a release.
      throw error;
    }
  }

  private eventFor(meta: TrackUsageMetadata, request: HttpRequestLike): RequestEvent {
    const eventData = meta.eventData ? meta.eventData(request) : isPlainObject(request.body) ? request.body : {};
    const userId = meta.userId?.(request);
    // The run the caller's request belongs to travels on: an agent's call through this host is charged to its run.
    const runId = meta.runId ? meta.runId(request) : headerValue(request, 'x-run-id');
    // The caller's key makes its retries one charge; without one, each request is its own.
    const given = headerValue(request, 'idempotency-key');
    return { eventType: meta.eventType, eventData, ...(userId ? { userId } : {}), ...(runId ? { runId } : {}), idempotencyKey: given ?? `cm-${randomUUID()}`, generatedKey: given === undefined };
  }

  private respond(response: unknown, body: unknown, usage: UsageEnvelope): unknown {
    const adapter = this.adapterHost.httpAdapter;
    if (usage.creditsConsumed !== null) adapter.setHeader(response, 'X-Credits-Consumed', String(usage.creditsConsumed));
    if (usage.remainingCredits !== null) adapter.setHeader(response, 'X-Credits-Remaining', String(usage.remainingCredits));
    return withUsage(body, usage);
  }
}

/** The metered items with the first one (already pulled) in front; closing it closes the protocol's generator. */
async function* prepend<C>(first: IteratorResult<MeteredItem<C>, void>, rest: AsyncGenerator<MeteredItem<C>, void, undefined>): AsyncGenerator<MeteredItem<C>, void, undefined> {
  if (first.done) return;
  try {
    yield first.value;
    yield* rest;
  } finally {
    await rest.return(undefined);
  }
}

function envelope(eventType: string, mode: UsageEnvelope['mode']): UsageEnvelope {
  return { eventId: null, eventType, creditsConsumed: null, remainingCredits: null, overageCredits: 0, warnings: [], mode };
}

/** The status the route answers with (@HttpCode, else Nest's default: 201 for a POST), kept with the answer. */
function statusOf(reflector: Reflector, context: ExecutionContext): number {
  const code = reflector.get<unknown>(HTTP_CODE_METADATA, context.getHandler());
  if (typeof code === 'number') return code;
  return context.switchToHttp().getRequest<{ method?: string }>().method === 'POST' ? 201 : 200;
}

/** The service's answer as the host's answer: the same status, the same body. */
function toHttp(error: unknown): unknown {
  return error instanceof MeteringError ? new HttpException(error.body, error.status, { cause: error }) : error;
}
