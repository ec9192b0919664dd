import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { PlansModule } from '../plans/plans.module';
import { UsageTrackingModule } from '../tracking/usage-tracking.module';
import { DemoController } from './demo.controller';
import { ReservationsController } from './reservations.controller';
import { UsageController } from './usage.controller';
import { UsageCoreModule } from './usage-core.module';

/** The usage API: its routes take requests apart through tracking/'s TrackingHttpService (UsageTrackingModule). */
@Module({
  imports: [UsageCoreModule, UsageTrackingModule, EventsModule, PlansModule, OrganizationsModule],
  controllers: [UsageController, ReservationsController, DemoController],
  exports: [UsageCoreModule],
})
export class UsageModule {}
