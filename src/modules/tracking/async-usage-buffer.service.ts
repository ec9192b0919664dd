import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { DomainError } from '../../common/errors/domain-error';
import { Clock } from '../../common/clock/clock';
import { hundredthsToNumber } from '../../common/money/credits';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { MembershipPolicy } from '../api-keys/membership-policy';
import { EventRegistry } from '../events/event-registry.service';
import { OrganizationsService } from '../organizations/organizations.service';
import { priceEvent, pricedDefinition } from '../usage/utils/credit-calculator';
import { UsageTracker } from '../usage/usage-tracker.service';
import type { TrackInput } from '../usage/usage.types';
import type { UsageEnvelope } from '../../../libs/contracts/src/tracking.types';

export interface QueuedUsage {
  input: TrackInput;
  credits: number;
}

/**
 * Asynchronous tracking: an event is accepted at once (priced in memory) and written with others in one
 * batch, every ASYNC_FLUSH_INTERVAL_MS or as soon as ASYNC_BATCH_SIZE are waiting.
 *
 * Durability: a graceful shutdown writes everything accepted (and, while closing, writes each new event
 * before answering). A kill -9 loses what was accepted since the last flush: at most one interval's events.
 * A batch that fails to write (database down) goes back to the head of the queue and is retried.
 */
@Injectable()
export class AsyncUsageBuffer implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(AsyncUsageBuffer.name);
  private queue: TrackInput[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private closing = false;
  private written = 0;
  private failed = 0;

  constructor(
    private readonly tracker: UsageTracker,
    private readonly events: EventRegistry,
    private readonly clock: Clock,
    private readonly organizations: OrganizationsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly membership?: MembershipPolicy,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.flush(), this.config.asyncFlushIntervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    await this.flush();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  /** Validates and prices an event (unknown organizations or event types fail before any work runs). */
  async prepare(input: TrackInput): Promise<QueuedUsage> {
    await this.organizations.assertExists(input.organizationId);
    await this.membership?.assertMayAct(input.organizationId, input.userId, 'track');
    const definition = await this.events.findTrackable(input.eventType);
    const price = priceEvent(pricedDefinition(definition), input.eventData ?? {});
    // The time of the work, not of the write: the batch may land a second later, or in the next period. It
    // goes in receivedAt, outside the request hash: a retry stamped a moment later is the same request.
    return { input: { ...input, receivedAt: input.receivedAt ?? this.clock.now().toISOString() }, credits: price.credits };
  }

  /** Accepts a prepared event. While the app is closing, writes it before answering instead. */
  async enqueue(queued: QueuedUsage): Promise<UsageEnvelope> {
    this.queue.push(queued.input);
    if (this.closing || this.queue.length >= this.config.asyncBatchSize) {
      const flushed = this.flush();
      if (this.closing) await flushed;
    }
    return { eventId: null, eventType: queued.input.eventType, creditsConsumed: hundredthsToNumber(queued.credits), remainingCredits: null, overageCredits: 0, warnings: [], mode: 'async' };
  }

  get pending(): number {
    return this.queue.length;
  }

  stats() {
    return { pending: this.queue.length, written: this.written, failed: this.failed, batchSize: this.config.asyncBatchSize, flushIntervalMs: this.config.asyncFlushIntervalMs };
  }

  /** Writes everything queued so far; flushes run one after another, never two at once. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.drain());
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.config.asyncBatchSize);
      const byOrganization = new Map<string, TrackInput[]>();
      for (const input of batch) byOrganization.set(input.organizationId, [...(byOrganization.get(input.organizationId) ?? []), input]);
      const retry: TrackInput[] = [];
      for (const [organizationId, inputs] of byOrganization) {
        try {
          const results = await this.tracker.trackAsync(organizationId, inputs);
          for (const r of results) {
            if (r.status === 'rejected') {
              // Kept as a refused event by the tracker (event log, reconciliation, notification).
              this.failed++;
              this.logger.warn(`Asynchronous event refused: ${r.error.error} ${r.error.message}`);
            } else this.written++;
          }
        } catch (error) {
          if (error instanceof DomainError) {
            // The organization itself is gone or invalid: these events can never be written.
            this.failed += inputs.length;
            this.logger.warn(`Asynchronous events for ${organizationId} refused: ${error.code}`);
          } else retry.push(...inputs);
        }
      }
      if (retry.length > 0) {
        this.queue.unshift(...retry);
        this.logger.warn(`Asynchronous batch not written (${retry.length} events kept for the next flush)`);
        return;
      }
    }
  }
}
