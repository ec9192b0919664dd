import { Module, OnModuleInit } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { AnalyticsModule } from '../analytics/analytics.module';
import { PlansModule } from '../plans/plans.module';
import { UsageModule } from '../usage/usage.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { ReservationExpiryJob, WebhookDeliveryJob } from './housekeeping/housekeeping.jobs';
import { JobLocks } from './job-locks';
import { JobRunner } from './job-runner.service';
import { JobRunsRepository } from './job-runs.repository';
import { JobsAdminController } from './jobs-admin.controller';
import { JobsAdminService } from './jobs-admin.service';
import { JobsScheduler } from './jobs.scheduler';
import { UsagePartitionsJob } from './partitions/usage-partitions.job';
import { PeriodCloseJob } from './period-close/period-close.job';
import { PeriodCloseRepository } from './period-close/period-close.repository';
import { LedgerReconciliationJob } from './reconciliation/ledger-reconciliation.job';
import { ReconciliationRepository } from './reconciliation/reconciliation.repository';
import { RollupRefreshJob } from './rollup-refresh/rollup-refresh.job';

/** SPEC section 8: scheduled, locked, recorded, idempotent jobs, and their admin API. */
@Module({
  imports: [ScheduleModule.forRoot(), AnalyticsModule, PlansModule, UsageModule, WebhooksModule],
  controllers: [JobsAdminController],
  providers: [
    JobRunner,
    JobLocks,
    JobRunsRepository,
    JobsScheduler,
    JobsAdminService,
    UsagePartitionsJob,
    PeriodCloseJob,
    PeriodCloseRepository,
    RollupRefreshJob,
    LedgerReconciliationJob,
    ReconciliationRepository,
    ReservationExpiryJob,
    WebhookDeliveryJob,
  ],
  exports: [JobRunner, JobsScheduler],
})
export class JobsModule implements OnModuleInit {
  constructor(
    private readonly runner: JobRunner,
    private readonly partitions: UsagePartitionsJob,
    private readonly close: PeriodCloseJob,
    private readonly rollups: RollupRefreshJob,
    private readonly reconciliation: LedgerReconciliationJob,
    private readonly reservationExpiry: ReservationExpiryJob,
    private readonly webhookDelivery: WebhookDeliveryJob,
  ) {}

  onModuleInit(): void {
    for (const job of [this.partitions, this.close, this.rollups, this.reconciliation, this.reservationExpiry, this.webhookDelivery]) this.runner.register(job);
  }
}
