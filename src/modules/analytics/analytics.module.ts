import { Module } from '@nestjs/common';
import { OrganizationsModule } from '../organizations/organizations.module';
import { PlansModule } from '../plans/plans.module';
import { AnalyticsController } from './analytics.controller';
import { AnalyticsServicesModule } from './analytics-services.module';

/** Analytics over rollups (docs/analytics.md): breakdowns, trends, forecast, recommendation, invoices, the event log, reports. */
@Module({
  imports: [AnalyticsServicesModule, OrganizationsModule, PlansModule],
  controllers: [AnalyticsController],
  exports: [AnalyticsServicesModule],
})
export class AnalyticsModule {}
