import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { isPlainObject } from '../../common/validation/json-validators';
import { IngestService } from '../ingest/ingest.service';
import type { IngestReceipt } from '../../../libs/contracts/src/tracking.types';
import { UsageTracker } from '../usage/usage-tracker.service';
import type { TrackInput } from '../usage/usage.types';
import { requestContext } from './utils/request-context';
import type { PlatformRequest } from './utils/request-context';
import { MAX_BATCH_EVENTS, parseIdempotencyHeader } from '../usage/utils/track-input';

/**
 * Turns the HTTP body of `POST …/usage/events` (one event, or `{events: […]}`) into tracker calls. One
 * body shape or the other is decided here, so the controller stays one call. It lives with @TrackUsage:
 * both read the same request context (utils/request-context.ts) and idempotency header, so every way of
 * tracking from a route sits in this folder, over the usage module's tracker.
 */
@Injectable()
export class TrackingHttpService {
  constructor(
    private readonly tracker: UsageTracker,
    private readonly ingest: IngestService,
  ) {}

  context(req: FastifyRequest): TrackInput['context'] {
    return requestContext(req as FastifyRequest & PlatformRequest);
  }

  async trackBody(organizationId: string, body: unknown, req: FastifyRequest, options: { allowAsync?: boolean } = {}): Promise<{ statusCode: number; body: unknown; headers?: Record<string, string> }> {
    const headerKey = parseIdempotencyHeader(req.headers['idempotency-key']);
    const context = this.context(req);
    // X-User-Id attributes events that do not name a user themselves (docs/api-keys.md).
    const headerUser = req.headers['x-user-id'];
    const withUser = (input: TrackInput): TrackInput => (input.userId === undefined && typeof headerUser === 'string' && headerUser.length > 0 ? { ...input, userId: headerUser.slice(0, 128) } : input);
    if (isPlainObject(body) && 'events' in body) {
      if (Object.keys(body).length !== 1) throw validationFailed({ body: ['a batch body holds only "events"'] });
      if (!Array.isArray(body.events)) throw validationFailed({ events: ['events must be an array'] });
      if (body.events.length === 0 || body.events.length > MAX_BATCH_EVENTS) throw validationFailed({ events: [`events must hold 1 to ${MAX_BATCH_EVENTS} events`] });
      const inputs: Array<TrackInput | DomainError> = body.events.map((item, i) => {
        try {
          return withUser(this.tracker.parse(organizationId, item, undefined, context, `events[${i}]`));
        } catch (error) {
          if (error instanceof DomainError) return error;
          throw error;
        }
      });
      if (options.allowAsync && prefersAsync(req.headers.prefer)) {
        // Stored (durably) before the answer; written by the drainers; the receipt tells how it went.
        const accepted = await this.ingest.acceptBatch(organizationId, await this.tracker.screen(organizationId, inputs), headerKey);
        return { statusCode: 202, body: accepted, headers: { 'preference-applied': 'respond-async' } };
      }
      const results = await this.tracker.trackBatch(organizationId, inputs);
      return { statusCode: 200, body: { results } };
    }
    const input = withUser(this.tracker.parse(organizationId, body, headerKey, context));
    return { statusCode: 201, body: await this.tracker.track(input) };
  }

  /** An asynchronous batch's receipt (404 for another organization's). */
  receipt(organizationId: string, receiptId: string): Promise<IngestReceipt> {
    return this.ingest.receipt(organizationId, receiptId);
  }
}

/** RFC 7240: `Prefer: respond-async` (among other preferences, any case). */
function prefersAsync(header: string | string[] | undefined): boolean {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  return values.some((v) => v.split(',').some((p) => p.split(';')[0].trim().toLowerCase() === 'respond-async'));
}
