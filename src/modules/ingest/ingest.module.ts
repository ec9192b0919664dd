import { Module } from '@nestjs/common';
import type { Provider } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { IngestBounds } from './ingest-bounds';
import { IngestMetrics } from './ingest-metrics';
import { IngestQueue } from './ingest-queue.types';
import { IngestReceiptsRepository } from './ingest-receipts.repository';
import { IngestDeliveriesRepository } from './ingest-deliveries.repository';
import { IngestService } from './ingest.service';
import { PostgresIngestQueue } from './postgres-ingest-queue';
import { JetStreamIngestQueue, jetStreamOptionsFrom } from './jetstream-ingest-queue';
import { Clock } from '../../common/clock/clock';

/**
 * THE place where the store of asynchronous events is chosen: the PostgreSQL queue table by default (the
 * embedded database too, so `npm start` needs nothing else), a JetStream stream when NATS_URL is set.
 */
export const INGEST_QUEUE_PROVIDER: Provider = {
  provide: IngestQueue,
  inject: [APP_CONFIG, PostgresIngestQueue, Clock],
  useFactory: async (config: AppConfig, postgres: PostgresIngestQueue, clock: Clock): Promise<IngestQueue> => {
    if (!config.nats) return postgres;
    // Creates (or brings up to date) the stream and the shared durable consumer; the start fails with the
    // server's reason when no server answers, rather than accepting events it could not store.
    return JetStreamIngestQueue.connect(jetStreamOptionsFrom({ ...config, nats: config.nats }), clock);
  },
};

/**
 * Durable asynchronous ingestion: the queue (append, claim, lag), its bounds, the receipts of asynchronous
 * batches and the acceptance of events. The drainers live in IngestDrainModule (they need the tracker,
 * which itself uses this module for asynchronous batches).
 */
@Module({
  imports: [MeteringDataSourceModule],
  providers: [PostgresIngestQueue, INGEST_QUEUE_PROVIDER, IngestBounds, IngestReceiptsRepository, IngestDeliveriesRepository, IngestService, IngestMetrics],
  exports: [IngestQueue, IngestService, IngestReceiptsRepository, IngestDeliveriesRepository, IngestMetrics],
})
export class IngestModule {}
