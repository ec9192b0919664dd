import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { PlansModule } from '../plans/plans.module';
import { AnalyticsCoreModule } from './analytics-core.module';
import { AnalyticsController } from './analytics.controller';
import { BillingRepository } from './billing.repository';
import { EventLogRepository } from './event-log.repository';
import { EventLogService } from './event-log.service';
import { ForecastService } from './forecast.service';
import { InvoiceService } from './invoice.service';
import { ReportsService } from './reports.service';
import { UsageAnalyticsService } from './usage-analytics.service';

/** SPEC section 7 over rollups: breakdowns, trends, forecast, recommendation, invoices, the event log, reports. */
@Module({
  imports: [AnalyticsCoreModule, EventsModule, OrganizationsModule, PlansModule],
  controllers: [AnalyticsController],
  providers: [UsageAnalyticsService, ForecastService, InvoiceService, EventLogService, ReportsService, BillingRepository, EventLogRepository],
  exports: [AnalyticsCoreModule, InvoiceService, BillingRepository],
})
export class AnalyticsModule {}
