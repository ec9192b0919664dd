import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { IngestQueue } from '../ingest/ingest-queue.types';
import { JobRunner } from './job-runner.service';
import { JobRunsRepository } from './job-runs.repository';
import type { JobParams } from './job.types';
import { ReconciliationRepository } from './reconciliation/reconciliation.repository';

const RECENT_RUNS = 10;

/** What operators see of the jobs (schedules, recent runs, alerts) and how they run one. */
@Injectable()
export class JobsAdminService {
  constructor(
    private readonly runner: JobRunner,
    private readonly runs: JobRunsRepository,
    private readonly alerts: ReconciliationRepository,
    private readonly ingest: IngestQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async overview() {
    const schedules = this.config.jobSchedules as Record<string, string>;
    const jobs = [];
    for (const job of this.runner.list()) {
      const recent = await this.runs.recent(job.name, RECENT_RUNS);
      jobs.push({
        name: job.name,
        description: job.description,
        schedule: schedules[job.name] ?? null,
        scheduled: this.config.jobsEnabled,
        runningHere: this.runner.isRunningHere(job.name),
        lastRun: recent.at(0) ?? null,
        lastSuccess: recent.find((r) => r.status === 'succeeded') ?? (await this.runs.lastSucceeded(job.name)) ?? null,
        recentRuns: recent,
      });
    }
    return {
      instanceId: this.runner.instanceId,
      jobsEnabled: this.config.jobsEnabled,
      periodCloseGraceMinutes: this.config.periodCloseGraceMinutes,
      jobs,
      // The asynchronous ingestion's lag: drained continuously by every instance (not a scheduled job).
      ingest: { store: this.ingest.kind, ...(await this.ingest.lag()), alertAfterSeconds: this.config.ingestLagAlertSeconds, maxMessages: this.config.ingestMaxMessages, drainersHere: this.config.ingestDrainers },
      alerts: { open: await this.alerts.countOpen(), recent: await this.alerts.list('open', 20) },
    };
  }

  run(name: string, params: JobParams) {
    return this.runner.runOrConflict(name, 'manual', params);
  }

  async alertList(status: 'open' | 'resolved' | 'all' = 'open', limit = 100) {
    return { items: await this.alerts.list(status, limit) };
  }
}
