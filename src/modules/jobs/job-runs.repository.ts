import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { JobParams, JobTrigger } from './job.types';

export type JobRunStatus = 'running' | 'succeeded' | 'failed' | 'abandoned';

export interface JobRunView {
  id: string;
  job: string;
  trigger: JobTrigger;
  instanceId: string;
  status: JobRunStatus;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  rows: number | null;
  params: JobParams | null;
  details: Record<string, unknown> | null;
  error: string | null;
}

interface JobRunRow {
  id: string;
  job_name: string;
  trigger: JobTrigger;
  instance_id: string;
  status: JobRunStatus;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
  rows: number | null;
  params: JobParams | null;
  details: Record<string, unknown> | null;
  error: string | null;
}

const COLUMNS = 'id, job_name, trigger, instance_id, status, started_at, finished_at, duration_ms, rows, params, details, error';

function toView(r: JobRunRow): JobRunView {
  return {
    id: r.id,
    job: r.job_name,
    trigger: r.trigger,
    instanceId: r.instance_id,
    status: r.status,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
    durationMs: r.duration_ms,
    rows: r.rows,
    params: r.params,
    details: r.details,
    error: r.error,
  };
}

/** job_runs (what ran, when, how it ended) and job_state (where a job that walks through time got to). */
@Injectable()
export class JobRunsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Records a run as started. Called holding the job's lock, so any other run of this job still marked
   * running belongs to an instance that died: it is marked abandoned.
   */
  async start(job: string, trigger: JobTrigger, instanceId: string, now: Date, params: JobParams): Promise<string> {
    const id = randomUUID();
    await this.dataSource.transaction(async (m) => {
      await m.query(`UPDATE job_runs SET status = 'abandoned', finished_at = $2 WHERE job_name = $1 AND status = 'running'`, [job, now]);
      await m.query(`INSERT INTO job_runs (id, job_name, trigger, instance_id, status, started_at, params) VALUES ($1, $2, $3, $4, 'running', $5, $6)`, [
        id,
        job,
        trigger,
        instanceId,
        now,
        Object.keys(params).length > 0 ? JSON.stringify(params) : null,
      ]);
    });
    return id;
  }

  async finish(id: string, status: 'succeeded' | 'failed', now: Date, durationMs: number, rows: number | null, details: Record<string, unknown> | null, error: string | null): Promise<JobRunView> {
    const [[row]] = (await this.dataSource.query(
      `UPDATE job_runs SET status = $2, finished_at = $3, duration_ms = $4, rows = $5, details = $6, error = $7 WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, status, now, durationMs, rows, details ? JSON.stringify(details) : null, error],
    )) as [JobRunRow[], number];
    return toView(row);
  }

  /**
   * Deletes the job's earlier scheduled runs that succeeded with nothing to do, keeping `keep`: for jobs that
   * tick every few seconds, the table then holds every run that did work and only the latest idle one.
   */
  async pruneIdleRuns(job: string, keep: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM job_runs WHERE job_name = $1 AND id <> $2 AND trigger = 'schedule' AND status = 'succeeded' AND rows = 0`, [job, keep]);
  }

  async recent(job: string, limit: number): Promise<JobRunView[]> {
    const rows = (await this.dataSource.query(`SELECT ${COLUMNS} FROM job_runs WHERE job_name = $1 ORDER BY started_at DESC, id LIMIT $2`, [job, limit])) as JobRunRow[];
    return rows.map(toView);
  }

  async lastSucceeded(job: string): Promise<JobRunView | undefined> {
    const [row] = (await this.dataSource.query(`SELECT ${COLUMNS} FROM job_runs WHERE job_name = $1 AND status = 'succeeded' ORDER BY started_at DESC LIMIT 1`, [job])) as JobRunRow[];
    return row ? toView(row) : undefined;
  }

  async watermark(job: string): Promise<string | undefined> {
    const [row] = (await this.dataSource.query(`SELECT watermark FROM job_state WHERE job_name = $1`, [job])) as Array<{ watermark: string }>;
    return row?.watermark;
  }

  /** Moves the watermark forward only: a slower run that finishes later cannot move it back. */
  async advanceWatermark(job: string, watermark: string, now: Date): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO job_state (job_name, watermark, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (job_name) DO UPDATE SET watermark = EXCLUDED.watermark, updated_at = EXCLUDED.updated_at WHERE job_state.watermark < EXCLUDED.watermark`,
      [job, watermark, now],
    );
  }
}
