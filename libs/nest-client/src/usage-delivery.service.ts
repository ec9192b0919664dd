import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { resolve } from 'node:path';
import { DeferredDelivery } from './deferred-delivery';
import type { DeliveryReport } from './deferred-delivery';
import { UsageClient } from './usage-client';
import { USAGE_CLIENT_OPTIONS } from './usage-client.options';
import type { UsageClientModuleOptions } from './usage-client.options';
import { UsageJournal } from './usage-journal';
import type { JournalEntry } from './usage-journal';

export const DEFAULT_JOURNAL_PATH = '.credit-metering/journal.jsonl';

/**
 * Owns the journal of events the service must still be told about, and delivers them: at start (what a
 * previous run left), right after each new entry, and every `deliveryIntervalMs` while any are pending.
 */
@Injectable()
export class UsageDeliveryService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('UsageClient');
  readonly journal: UsageJournal;
  private readonly delivery: DeferredDelivery;
  private timer?: NodeJS.Timeout;

  constructor(
    client: UsageClient,
    @Inject(USAGE_CLIENT_OPTIONS) private readonly options: UsageClientModuleOptions,
  ) {
    this.journal = new UsageJournal(resolve(options.journalPath ?? DEFAULT_JOURNAL_PATH));
    this.delivery = new DeferredDelivery(client, this.journal, this.logger);
  }

  onModuleInit(): void {
    this.journal.open();
    this.timer = setInterval(() => {
      if (this.journal.size > 0) void this.flush().catch((e: Error) => this.logger.warn(`Journal delivery failed: ${e.message}`));
    }, this.options.deliveryIntervalMs ?? 1_000);
    this.timer.unref();
    if (this.journal.size > 0) {
      this.logger.log(`${this.journal.size} deferred usage event(s) in ${this.journal.path}: delivering`);
      void this.flush().catch(() => undefined);
    }
  }

  /** Lets a round in progress finish (what it delivered is marked done), then releases the journal. */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.delivery.idle();
    this.journal.close();
  }

  /** Journals an event (durable when it returns) and tries to deliver it at once, in the background. */
  defer(entry: Omit<JournalEntry, 'id' | 'attempts'>): void {
    this.journal.add(entry);
    void this.flush().catch(() => undefined);
  }

  /** One delivery round now (also what the timer runs); resolves with what is left. */
  flush(): Promise<DeliveryReport> {
    return this.delivery.deliver();
  }
}
