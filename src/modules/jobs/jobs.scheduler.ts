import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { APP_CONFIG, jobSchedulesFrom } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { Clock } from '../../common/clock/clock';
import { JobRunner } from './job-runner.service';
import { JobRunsRepository } from './job-runs.repository';

/**
 * @Cron reads its expression when the decorator runs (module load), before main() loads ./.env: the
 * expressions are taken from the process environment here, and a different value in the loaded config is
 * reported at start-up (see onApplicationBootstrap).
 */
const SCHEDULES = jobSchedulesFrom(process.env);
const UTC = { timeZone: 'UTC', waitForCompletion: true } as const;

/** The order jobs catch up in at start-up: partitions before anything writes, closes before recounts. */
const CATCH_UP_ORDER = ['usage-partitions', 'period-close', 'rollup-refresh', 'ledger-reconciliation'];

/**
 * Decides when jobs run; the work is in the jobs (idempotent) and the runner (locked, recorded). Ticks
 * and the start-up catch-up do nothing when JOBS_ENABLED is false (tests run jobs by hand).
 */
@Injectable()
export class JobsScheduler implements OnApplicationBootstrap {
  private readonly logger = new Logger('Jobs');
  private startup: Promise<void> = Promise.resolve();

  constructor(
    private readonly runner: JobRunner,
    private readonly runs: JobRunsRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    for (const [job, expression] of Object.entries(this.config.jobSchedules)) {
      if (SCHEDULES[job as keyof typeof SCHEDULES] !== expression) {
        this.logger.warn(`${job}: the configured schedule "${expression}" applies only when set in the process environment, not in .env; running on "${SCHEDULES[job as keyof typeof SCHEDULES]}"`);
      }
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

  @Cron(SCHEDULES['period-close'], { name: 'period-close', ...UTC })
  periodClose(): Promise<void> {
    return this.tick('period-close');
  }

  @Cron(SCHEDULES['rollup-refresh'], { name: 'rollup-refresh', ...UTC })
  rollupRefresh(): Promise<void> {
    return this.tick('rollup-refresh');
  }

  @Cron(SCHEDULES['ledger-reconciliation'], { name: 'ledger-reconciliation', ...UTC })
  reconciliation(): Promise<void> {
    return this.tick('ledger-reconciliation');
  }

  @Cron(SCHEDULES['usage-partitions'], { name: 'usage-partitions', ...UTC })
  partitions(): Promise<void> {
    return this.tick('usage-partitions');
  }

  private async tick(job: string): Promise<void> {
    if (!this.config.jobsEnabled) return;
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
