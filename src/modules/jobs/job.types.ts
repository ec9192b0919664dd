export const JOB_TRIGGERS = ['schedule', 'startup', 'manual'] as const;
export type JobTrigger = (typeof JOB_TRIGGERS)[number];

/** Optional scope of a manual run (each job documents which it honours). */
export interface JobParams {
  /** YYYY-MM */
  period?: string;
  /** YYYY-MM-DD */
  day?: string;
  organizationId?: string;
}

export interface JobContext {
  runId: string;
  trigger: JobTrigger;
  params: JobParams;
  /** The clock's time when the run started: every decision of the run uses it. */
  now: Date;
  /** True once the service is shutting down: a job stops at its next unit of work (it is idempotent, the next run resumes). */
  stopping(): boolean;
}

export interface JobResult {
  /** Rows written (invoices, rollup rows, alerts, partitions…), as each job counts them. */
  rows: number;
  details?: Record<string, unknown>;
}

/** A job: a thin, idempotent service method the runner locks, records and schedules. */
export interface JobDefinition {
  name: string;
  description: string;
  run(ctx: JobContext): Promise<JobResult>;
  /**
   * For jobs that tick every few seconds: a scheduled run that succeeds with 0 rows replaces the previous such
   * run instead of adding to job_runs (runs that did work, failed, or were started by hand are all kept).
   */
  pruneIdleRuns?: boolean;
  /** Whether start-up should run it to catch up on what was missed while no instance ran (default true). */
  shouldCatchUp?(now: Date, lastSuccess: Date | undefined): boolean;
}
