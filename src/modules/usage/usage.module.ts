import { Module } from '@nestjs/common';
import { AnalyticsCoreModule } from '../analytics/analytics-core.module';
import { EventsModule } from '../events/events.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { PlansModule } from '../plans/plans.module';
import { DemoController } from './demo.controller';
import { EventPreparer } from './event-preparer';
import { LedgerRecorder } from './ledger-recorder';
import { LedgerRepository } from './ledger.repository';
import { RefusedEventsRecorder } from './refused-events.recorder';
import { ReservationsController } from './reservations.controller';
import { ReservationsService } from './reservations.service';
import { TrackingHttpService } from './tracking-http.service';
import { TrackRejections } from './track-rejections';
import { UsageQuote } from './usage-quote.service';
import { UsageSummaryService } from './usage-summary.service';
import { UsageTracker } from './usage-tracker.service';
import { UsageController } from './usage.controller';

@Module({
  imports: [EventsModule, PlansModule, OrganizationsModule, AnalyticsCoreModule],
  controllers: [UsageController, ReservationsController, DemoController],
  providers: [UsageTracker, EventPreparer, LedgerRecorder, TrackRejections, RefusedEventsRecorder, UsageQuote, LedgerRepository, UsageSummaryService, TrackingHttpService, ReservationsService],
  exports: [UsageTracker, ReservationsService],
})
export class UsageModule {}
