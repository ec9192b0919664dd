import { Module } from '@nestjs/common';
import { UsageCoreModule } from '../usage/usage-core.module';
import { IngestDrainer } from './ingest-drainer.service';
import { IngestModule } from './ingest.module';

/** The drainers: every instance that runs metering drains the ingest queue into the ledger. */
@Module({
  imports: [IngestModule, UsageCoreModule],
  providers: [IngestDrainer],
  exports: [IngestDrainer, IngestModule],
})
export class IngestDrainModule {}
