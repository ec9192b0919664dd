import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, Observable } from 'rxjs';
import { mergeMap, catchError } from 'rxjs/operators';
import { Principal, PRINCIPAL_KEY } from '../../common/auth/principal';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { isPlainObject } from '../../common/validation/json-validators';
import { ReservationsService } from '../usage/reservations.service';
import type { TrackInput } from '../usage/usage-tracker.service';
import { assertEventDataSize } from '../usage/utils/track-input';
import { AsyncUsageBuffer } from './async-usage-buffer.service';
import { TRACK_USAGE } from './track-usage.decorator';
import type { TrackUsageMetadata } from './track-usage.decorator';

export interface UsageEnvelope {
  eventId: string | null;
  eventType: string;
  creditsConsumed: number;
  remainingCredits: number | null;
  overageCredits: number;
  warnings: unknown[];
  mode: 'sync' | 'async';
  duplicate?: boolean;
}

/**
 * The metering around a `@TrackUsage` handler. Synchronous mode reserves before the handler (so a 402 means
 * the work never ran), commits after it succeeds and releases when it throws: the client gets the handler's
 * own error and is not charged. One reservation and one commit transaction per request.
 */
@Injectable()
export class TrackUsageInterceptor implements NestInterceptor {
  private readonly logger = new Logger(TrackUsageInterceptor.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly reservations: ReservationsService,
    private readonly buffer: AsyncUsageBuffer,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const meta = this.reflector.get<TrackUsageMetadata | undefined>(TRACK_USAGE, context.getHandler());
    if (!meta) return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest & { [PRINCIPAL_KEY]?: Principal }>();
    const reply = http.getResponse<FastifyReply>();
    const input = this.inputFor(meta, request);

    if (meta.mode === 'async') {
      // Validated and priced before the handler runs, written after it succeeds.
      const queued = await this.buffer.prepare(input);
      return next.handle().pipe(
        mergeMap((body) => {
          const usage = this.buffer.enqueue(queued);
          return from(usage.then((u) => this.respond(reply, body, u)));
        }),
      );
    }

    const reservation = await this.reservations.reserve(input, meta.ttlSeconds);
    if (reservation.duplicate) {
      // A retry of a request already charged (or in flight) under the same key: run, but never charge again.
      return next.handle().pipe(
        mergeMap(async (body) => this.respond(reply, body, { eventId: null, eventType: meta.eventType, creditsConsumed: 0, remainingCredits: reservation.remainingCredits, overageCredits: 0, warnings: [], mode: 'sync', duplicate: true })),
      );
    }
    return next.handle().pipe(
      mergeMap(async (body) => {
        const result = await this.reservations.commit(input.organizationId, reservation.reservationId);
        return this.respond(reply, body, {
          eventId: result.eventId,
          eventType: result.eventType,
          creditsConsumed: result.creditsConsumed,
          remainingCredits: result.remainingCredits,
          overageCredits: result.overageCredits,
          warnings: result.warnings,
          mode: 'sync',
        });
      }),
      catchError(async (error: unknown) => {
        await this.reservations.release(input.organizationId, reservation.reservationId).catch((e: Error) => {
          // Already settled or expired: nothing is held any more; the sweep covers anything else.
          if (!(e instanceof DomainError)) this.logger.warn(`Release after a failed handler failed: ${e.message}`);
        });
        throw error;
      }),
    );
  }

  private inputFor(meta: TrackUsageMetadata, request: FastifyRequest & { [PRINCIPAL_KEY]?: Principal }): TrackInput {
    const principal = request[PRINCIPAL_KEY];
    let organizationId: string | undefined;
    if (principal?.kind === 'organization') organizationId = principal.organizationId;
    else {
      const param = (request.params as Record<string, string> | undefined)?.orgId;
      const header = request.headers['x-organization-id'];
      organizationId = param ?? (typeof header === 'string' ? header : undefined);
    }
    if (!organizationId) throw validationFailed({ 'X-Organization-Id': ['name the organization to charge (X-Organization-Id), or use an organization API key'] });
    const eventData = meta.eventData ? meta.eventData(request) : isPlainObject(request.body) ? request.body : {};
    if (!isPlainObject(eventData)) throw validationFailed({ body: ['the request body must be a JSON object'] });
    assertEventDataSize(eventData);
    const userId = request.headers['x-user-id'];
    const key = request.headers['idempotency-key'];
    const ua = request.headers['user-agent'];
    return {
      organizationId,
      eventType: meta.eventType,
      eventData,
      userId: typeof userId === 'string' && userId.length > 0 ? userId.slice(0, 128) : undefined,
      idempotencyKey: typeof key === 'string' && key.length > 0 ? key.slice(0, 255) : undefined,
      context: { endpoint: request.routeOptions.url ?? request.url, ip: request.ip, userAgent: typeof ua === 'string' ? ua : undefined },
    };
  }

  private respond(reply: FastifyReply, body: unknown, usage: UsageEnvelope): unknown {
    reply.header('x-credits-consumed', String(usage.creditsConsumed));
    if (usage.remainingCredits !== null) reply.header('x-credits-remaining', String(usage.remainingCredits));
    return isPlainObject(body) ? { ...body, usage } : body;
  }
}
