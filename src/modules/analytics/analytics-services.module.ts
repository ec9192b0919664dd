import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { EventsCoreModule } from '../events/events-core.module';
import { LedgerModule } from '../ledger/ledger.module';
import { OrganizationsCoreModule } from '../organizations/organizations-core.module';
import { PlansCoreModule } from '../plans/plans-core.module';
import { AnalyticsCoreModule } from './analytics-core.module';
import { BillingRepository } from './billing.repository';
import { EventLogRepository } from './event-log.repository';
import { EventLogService } from './event-log.service';
import { ForecastService } from './forecast.service';
import { InvoiceService } from './invoice.service';
import { ReportsService } from './reports.service';
import { UsageAnalyticsService } from './usage-analytics.service';

/** The analytics services without the analytics API (the jobs need invoices and billing, also when embedded). */
@Module({
  imports: [MeteringDataSourceModule, LedgerModule, AnalyticsCoreModule, EventsCoreModule, OrganizationsCoreModule, PlansCoreModule],
  providers: [UsageAnalyticsService, ForecastService, InvoiceService, EventLogService, ReportsService, BillingRepository, EventLogRepository],
  exports: [AnalyticsCoreModule, UsageAnalyticsService, ForecastService, InvoiceService, EventLogService, ReportsService, BillingRepository],
})
export class AnalyticsServicesModule {}
