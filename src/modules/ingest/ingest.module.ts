import { Module } from '@nestjs/common';
import type { Provider } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { IngestBounds } from './ingest-bounds';
import { IngestMetrics } from './ingest-metrics';
import { IngestQueue } from './ingest-queue.types';
import { IngestReceiptsRepository } from './ingest-receipts.repository';
import { IngestService } from './ingest.service';
import { PostgresIngestQueue } from './postgres-ingest-queue';

/**
 * THE place where the store of asynchronous events is chosen: the PostgreSQL queue table by default (the
 * embedded database too, so `npm start` needs nothing else), a JetStream stream when NATS_URL is set.
 */
export const INGEST_QUEUE_PROVIDER: Provider = {
  provide: IngestQueue,
  inject: [APP_CONFIG, PostgresIngestQueue],
  useFactory: (_config: AppConfig, postgres: PostgresIngestQueue): IngestQueue => {
    // JetStream: when `_config` has a NATS URL, return the JetStream queue here (its class provided below).
    return postgres;
  },
};

/**
 * Durable asynchronous ingestion: the queue (append, claim, lag), its bounds, the receipts of asynchronous
 * batches and the acceptance of events. The drainers live in IngestDrainModule (they need the tracker,
 * which itself uses this module for asynchronous batches).
 */
@Module({
  imports: [MeteringDataSourceModule],
  providers: [PostgresIngestQueue, INGEST_QUEUE_PROVIDER, IngestBounds, IngestReceiptsRepository, IngestService, IngestMetrics],
  exports: [IngestQueue, IngestService, IngestReceiptsRepository, IngestMetrics],
})
export class IngestModule {}
