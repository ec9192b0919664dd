import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { AnalyticsCoreModule } from '../analytics/analytics-core.module';
import { EventsCoreModule } from '../events/events-core.module';
import { OrganizationsCoreModule } from '../organizations/organizations-core.module';
import { PlansCoreModule } from '../plans/plans-core.module';
import { LedgerRepository } from './ledger.repository';
import { ReservationsService } from './reservations.service';
import { TrackingHttpService } from './tracking-http.service';
import { UsageSummaryService } from './usage-summary.service';
import { UsageTracker } from './usage-tracker.service';

/** The tracker, the ledger and reservations without the usage API (what @TrackUsage stands on). */
@Module({
  imports: [MeteringDataSourceModule, EventsCoreModule, PlansCoreModule, OrganizationsCoreModule, AnalyticsCoreModule],
  providers: [UsageTracker, LedgerRepository, UsageSummaryService, TrackingHttpService, ReservationsService],
  exports: [UsageTracker, ReservationsService, UsageSummaryService, TrackingHttpService],
})
export class UsageCoreModule {}
