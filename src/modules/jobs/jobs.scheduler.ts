import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { Clock } from '../../common/clock/clock';
import { JobRunner } from './job-runner.service';
import { JobRunsRepository } from './job-runs.repository';

/** The order jobs catch up in at start-up: partitions before anything writes, closes before recounts. */
const CATCH_UP_ORDER = ['usage-partitions', 'period-close', 'rollup-refresh', 'ledger-reconciliation'];

/**
 * Decides when jobs run; the work is in the jobs (idempotent) and the runner (locked, recorded).
 *
 * Each job's cron job is built here from the validated configuration and registered with Nest's
 * SchedulerRegistry (not with @Cron, whose expression is read when the module loads: before @nestjs/config
 * has read ./.env, so a schedule set there was silently ignored). They are registered whatever JOBS_ENABLED
 * says, so operators and tests see the schedule, and started only when it is true (tests fire them by hand).
 */
@Injectable()
export class JobsScheduler implements OnApplicationBootstrap {
  private readonly logger = new Logger('Jobs');
  private startup: Promise<void> = Promise.resolve();

  constructor(
    private readonly runner: JobRunner,
    private readonly runs: JobRunsRepository,
    private readonly clock: Clock,
    private readonly registry: SchedulerRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const schedules = this.config.jobSchedules as Record<string, string>;
    for (const job of this.runner.list()) {
      const expression = schedules[job.name];
      if (expression === undefined) continue; // run by hand only
      const cron = CronJob.from({
        cronTime: expression,
        onTick: () => this.tick(job.name),
        timeZone: 'UTC',
        // A tick while the previous run of the job goes on is skipped (the runner would refuse it anyway).
        waitForCompletion: true,
        start: false,
        name: job.name,
      });
      this.registry.addCronJob(job.name, cron);
      if (this.config.jobsEnabled) cron.start();
    }
    if (!this.config.jobsEnabled) return;
    // In the background: a long catch-up must not hold the service's start (health checks, traffic).
    this.startup = this.catchUp().catch((error: Error) => this.logger.error(`Start-up catch-up failed: ${error.message}`));
  }

  /** Resolves when the start-up catch-up has finished (immediately when jobs are disabled). */
  whenCaughtUp(): Promise<void> {
    return this.startup;
  }

  /** Runs, in order, every job whose schedule passed while no instance ran it. */
  async catchUp(): Promise<void> {
    const jobs = [...this.runner.list()].sort((a, b) => order(a.name) - order(b.name));
    for (const job of jobs) {
      const last = await this.runs.lastSucceeded(job.name);
      const due = job.shouldCatchUp ? job.shouldCatchUp(this.clock.now(), last ? new Date(last.startedAt) : undefined) : true;
      if (due) await this.runner.run(job.name, 'startup');
    }
  }

  /** What a schedule firing does: one recorded, locked run (a failure is recorded and logged, never thrown into the timer). */
  private async tick(job: string): Promise<void> {
    try {
      await this.runner.run(job, 'schedule');
    } catch (error) {
      this.logger.error(`${job}: ${(error as Error).message}`);
    }
  }
}

function order(name: string): number {
  const i = CATCH_UP_ORDER.indexOf(name);
  return i === -1 ? CATCH_UP_ORDER.length : i;
}
