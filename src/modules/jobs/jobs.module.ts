import { Module } from '@nestjs/common';
import { AnalyticsModule } from '../analytics/analytics.module';
import { PlansModule } from '../plans/plans.module';
import { UsageModule } from '../usage/usage.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { JobsAdminController } from './jobs-admin.controller';
import { JobsCoreModule } from './jobs-core.module';

/** The jobs (JobsCoreModule) and their admin API. */
@Module({
  imports: [JobsCoreModule, AnalyticsModule, PlansModule, UsageModule, WebhooksModule],
  controllers: [JobsAdminController],
  exports: [JobsCoreModule],
})
export class JobsModule {}
