import { Module, OnModuleInit } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { AnalyticsServicesModule } from '../analytics/analytics-services.module';
import { IngestModule } from '../ingest/ingest.module';
import { LedgerModule } from '../ledger/ledger.module';
import { PlansCoreModule } from '../plans/plans-core.module';
import { UsageCoreModule } from '../usage/usage-core.module';
import { WebhooksCoreModule } from '../webhooks/webhooks-core.module';
import { ReservationExpiryJob, WebhookDeliveryJob } from './housekeeping/housekeeping.jobs';
import { JobLocks } from './job-locks';
import { JobRunner } from './job-runner.service';
import { JobRunsRepository } from './job-runs.repository';
import { JobsAdminService } from './jobs-admin.service';
import { JobsScheduler } from './jobs.scheduler';
import { UsagePartitionsJob } from './partitions/usage-partitions.job';
import { PeriodCloseJob } from './period-close/period-close.job';
import { PeriodCloseRepository } from './period-close/period-close.repository';
import { OrganizationsCoreModule } from '../organizations/organizations-core.module';
import { PeriodCloseBatchRepository } from './period-close/period-close-batch.repository';
import { LedgerReconciliationJob } from './reconciliation/ledger-reconciliation.job';
import { ReconciliationRepository } from './reconciliation/reconciliation.repository';
import { RollupRefreshJob } from './rollup-refresh/rollup-refresh.job';

/** Scheduled, locked, recorded, idempotent jobs, without their admin API (they run embedded too). */
@Module({
  imports: [ScheduleModule.forRoot(), MeteringDataSourceModule, LedgerModule, AnalyticsServicesModule, PlansCoreModule, UsageCoreModule, WebhooksCoreModule, IngestModule, OrganizationsCoreModule],
  providers: [
    JobRunner,
    JobLocks,
    JobRunsRepository,
    JobsScheduler,
    JobsAdminService,
    UsagePartitionsJob,
    PeriodCloseJob,
    PeriodCloseRepository,
    PeriodCloseBatchRepository,
    RollupRefreshJob,
    LedgerReconciliationJob,
    ReconciliationRepository,
    ReservationExpiryJob,
    WebhookDeliveryJob,
  ],
  exports: [JobRunner, JobsScheduler, JobsAdminService],
})
export class JobsCoreModule implements OnModuleInit {
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
