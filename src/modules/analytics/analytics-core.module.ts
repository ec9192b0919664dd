import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { LedgerModule } from '../ledger/ledger.module';
import { ClosedPeriods } from './closed-periods.service';
import { RollupRepository } from './rollup.repository';

/**
 * What the tracker needs from analytics (rollups kept in its transaction, the early PERIOD_CLOSED check),
 * apart from the analytics API so UsageModule can import it without a cycle.
 */
@Module({
  imports: [MeteringDataSourceModule, LedgerModule],
  providers: [RollupRepository, ClosedPeriods],
  exports: [RollupRepository, ClosedPeriods],
})
export class AnalyticsCoreModule {}
