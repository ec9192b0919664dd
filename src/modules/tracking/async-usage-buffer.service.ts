import { BeforeApplicationShutdown, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { hundredthsToNumber } from '../../common/money/credits';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { MembershipPolicy } from '../api-keys/membership-policy';
import { EventRegistry } from '../events/event-registry.service';
import { IngestDrainer } from '../ingest/ingest-drainer.service';
import { IngestQueue } from '../ingest/ingest-queue.types';
import { IngestService } from '../ingest/ingest.service';
import { OrganizationsService } from '../organizations/organizations.service';
import { priceEvent, pricedDefinition } from '../usage/utils/credit-calculator';
import type { TrackInput } from '../usage/usage.types';
import type { UsageEnvelope } from '../../../libs/contracts/src/tracking.types';

export interface QueuedUsage {
  input: TrackInput;
  credits: number;
}

/** How long a graceful shutdown keeps writing what waits before it leaves the rest to the other instances. */
const SHUTDOWN_DRAIN_MS = 10_000;

/**
 * Asynchronous tracking from an async `@TrackUsage` route or from code: an event is validated and priced,
 * then stored in the ingest queue (IngestQueue: a PostgreSQL table, or JetStream) BEFORE it is answered, so
 * an event answered as accepted survives a kill -9. The drainers of every instance write it to the ledger.
 * No event waits in memory; past the queue's bounds the call answers 503 INGEST_QUEUE_FULL (Retry-After).
 */
@Injectable()
export class AsyncUsageBuffer implements BeforeApplicationShutdown {
  private readonly logger = new Logger(AsyncUsageBuffer.name);

  constructor(
    private readonly events: EventRegistry,
    private readonly organizations: OrganizationsService,
    private readonly ingest: IngestService,
    private readonly queue: IngestQueue,
    private readonly drainer: IngestDrainer,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly membership?: MembershipPolicy,
  ) {}

  /**
   * A graceful shutdown writes what waits (bounded in time): a lone instance (the embedded database, a
   * demo) leaves nothing for later. Nothing is lost either way: what is not written waits in the queue.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.config.ingestDrainers === 0) return;
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_DRAIN_MS).unref());
    await Promise.race([this.drainer.drainAll().catch((e: Error) => this.logger.warn(`Drain on shutdown stopped: ${e.message}`)), deadline]);
  }

  /** Validates and prices an event (unknown organizations or event types fail before any work runs). */
  async prepare(input: TrackInput): Promise<QueuedUsage> {
    await this.organizations.assertExists(input.organizationId);
    await this.membership?.assertMayAct(input.organizationId, input.userId, 'track');
    const definition = await this.events.findTrackable(input.eventType);
    const price = priceEvent(pricedDefinition(definition), input.eventData ?? {});
    return { input, credits: price.credits };
  }

  /**
   * Accepts a prepared event: resolves once it is stored durably (with an idempotency key, generated when
   * the caller gave none, so a redelivery charges it once, and its acceptance time, its date by default).
   */
  async enqueue(queued: QueuedUsage): Promise<UsageEnvelope> {
    await this.ingest.accept([queued.input]);
    return { eventId: null, eventType: queued.input.eventType, creditsConsumed: hundredthsToNumber(queued.credits), remainingCredits: null, overageCredits: 0, warnings: [], mode: 'async' };
  }

  /** Asynchronous tracking from code: validates, prices and stores the event; resolves once it is durable. */
  async trackAsync(input: TrackInput): Promise<UsageEnvelope> {
    return this.enqueue(await this.prepare(input));
  }

  /** Events waiting in the queue (all instances'). */
  async pending(): Promise<number> {
    return (await this.queue.lag()).waiting;
  }

  /** Writes everything waiting to the ledger now (before a check that needs it, tests). */
  async flush(): Promise<void> {
    await this.drainer.drainAll();
  }
}
