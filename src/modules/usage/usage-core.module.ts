import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { AnalyticsCoreModule } from '../analytics/analytics-core.module';
import { LedgerModule } from '../ledger/ledger.module';
import { EventsCoreModule } from '../events/events-core.module';
import { IngestModule } from '../ingest/ingest.module';
import { OrganizationsCoreModule } from '../organizations/organizations-core.module';
import { PlansCoreModule } from '../plans/plans-core.module';
import { EventPreparer } from './event-preparer.service';
import { LedgerRecorder } from './ledger-recorder.service';
import { RefusedEventsRecorder } from './refused-events.recorder';
import { ReservationsService } from './reservations.service';
import { TrackRejections } from './track-rejections.service';
import { UsageQuote } from './usage-quote.service';
import { UsageSummaryService } from './usage-summary.service';
import { UsageTracker } from './usage-tracker.service';

/**
 * The tracker, the ledger and reservations without the usage API (what @TrackUsage stands on). Nothing here
 * reads an HTTP request: turning one into tracker calls is tracking/'s (UsageTrackingModule).
 */
@Module({
  imports: [MeteringDataSourceModule, LedgerModule, EventsCoreModule, PlansCoreModule, OrganizationsCoreModule, AnalyticsCoreModule, IngestModule],
  providers: [UsageTracker, EventPreparer, LedgerRecorder, TrackRejections, RefusedEventsRecorder, UsageQuote, UsageSummaryService, ReservationsService],
  exports: [UsageTracker, ReservationsService, UsageSummaryService],
})
export class UsageCoreModule {}
