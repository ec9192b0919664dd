import { Module } from '@nestjs/common';
import { AnalyticsCoreModule } from '../analytics/analytics-core.module';
import { EventsModule } from '../events/events.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { PlansModule } from '../plans/plans.module';
import { DemoController } from './demo.controller';
import { LedgerRepository } from './ledger.repository';
import { ReservationsController } from './reservations.controller';
import { ReservationsService } from './reservations.service';
import { TrackingHttpService } from './tracking-http.service';
import { UsageSummaryService } from './usage-summary.service';
import { UsageTracker } from './usage-tracker.service';
import { UsageController } from './usage.controller';

@Module({
  imports: [EventsModule, PlansModule, OrganizationsModule, AnalyticsCoreModule],
  controllers: [UsageController, ReservationsController, DemoController],
  providers: [UsageTracker, LedgerRepository, UsageSummaryService, TrackingHttpService, ReservationsService],
  exports: [UsageTracker, ReservationsService],
})
export class UsageModule {}
