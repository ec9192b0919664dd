import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Clock } from '../../common/clock/clock';
import { DomainError } from '../../common/errors/domain-error';
import { JobLocks } from './job-locks';
import { JobRunsRepository } from './job-runs.repository';
import type { JobRunView } from './job-runs.repository';
import type { JobDefinition, JobParams, JobTrigger } from './job.types';

/**
 * Runs jobs: one at a time per job on this instance (in-process guard) and across instances (JobLocks),
 * each run recorded in job_runs. A run that finds its job already running elsewhere is skipped, not queued:
 * jobs are idempotent and the running one does the work.
 */
@Injectable()
export class JobRunner implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Jobs');
  private readonly jobs = new Map<string, JobDefinition>();
  private readonly running = new Map<string, Promise<JobRunView | null>>();
  private shuttingDown = false;
  /** Names this process in job_runs. */
  readonly instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly locks: JobLocks,
    private readonly runs: JobRunsRepository,
    private readonly clock: Clock,
  ) {}

  /** Other modules may register jobs of their own (reservation expiry, webhook delivery…). */
  register(job: JobDefinition): void {
    if (this.jobs.has(job.name)) throw new Error(`Job "${job.name}" is registered twice`);
    this.jobs.set(job.name, job);
  }

  list(): JobDefinition[] {
    return [...this.jobs.values()];
  }

  get(name: string): JobDefinition {
    const job = this.jobs.get(name);
    if (!job) throw new DomainError('JOB_NOT_FOUND', `Job "${name}" does not exist`, { job: name, jobs: [...this.jobs.keys()] });
    return job;
  }

  isRunningHere(name: string): boolean {
    return this.running.has(name);
  }

  /** Runs a job now; null when it is already running (here or on another instance). */
  run(name: string, trigger: JobTrigger, params: JobParams = {}): Promise<JobRunView | null> {
    const job = this.get(name);
    if (this.shuttingDown || this.running.has(name)) return Promise.resolve(null);
    // Set before the first await: two calls in the same tick cannot both pass the check above.
    const run = this.execute(job, trigger, params).finally(() => this.running.delete(name));
    this.running.set(name, run);
    return run;
  }

  /** Like run(), for operators: 409 JOB_RUNNING instead of null. */
  async runOrConflict(name: string, trigger: JobTrigger, params: JobParams = {}): Promise<JobRunView> {
    const view = await this.run(name, trigger, params);
    if (!view) throw new DomainError('JOB_RUNNING', `Job "${name}" is already running`, { job: name });
    return view;
  }

  /** Lets running jobs reach their next unit of work and stop, before the database goes away. */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    await Promise.allSettled([...this.running.values()]);
  }

  private async execute(job: JobDefinition, trigger: JobTrigger, params: JobParams): Promise<JobRunView | null> {
    const lock = await this.locks.tryAcquire(job.name);
    if (!lock) {
      this.logger.debug(`${job.name}: running on another instance, skipped`);
      return null;
    }
    try {
      const now = this.clock.now();
      const started = performance.now();
      const runId = await this.runs.start(job.name, trigger, this.instanceId, now, params);
      const elapsed = () => Math.round(performance.now() - started);
      try {
        const result = await job.run({ runId, trigger, params, now, stopping: () => this.shuttingDown });
        const view = await this.runs.finish(runId, 'succeeded', this.clock.now(), elapsed(), result.rows, result.details ?? null, null);
        if (job.pruneIdleRuns && trigger === 'schedule' && result.rows === 0) await this.runs.pruneIdleRuns(job.name, runId);
        // A frequent job with nothing to do would otherwise log a line every few seconds.
        if (!(job.pruneIdleRuns && result.rows === 0)) this.logger.log(`${job.name} (${trigger}): ${result.rows} rows in ${view.durationMs} ms`);
        return view;
      } catch (error) {
        // Only the message is kept: a DomainError's is meant for people; anything else is logged in full.
        const message = error instanceof Error ? error.message : String(error);
        this.logger.error(`${job.name} (${trigger}) failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
        return await this.runs.finish(runId, 'failed', this.clock.now(), elapsed(), null, null, message.slice(0, 2000));
      }
    } finally {
      await lock.release();
    }
  }
}
