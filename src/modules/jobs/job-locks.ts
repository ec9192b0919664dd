import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';

/** The first key of every job's advisory lock (the second is hashtext(job name)); the migration lock uses the one-key form. */
export const JOB_LOCK_NAMESPACE = 7_301_003;

export interface JobLock {
  release(): Promise<void>;
}

/**
 * One run of a job at a time across instances.
 *
 * PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) held on a connection of its own for the whole
 * run, while the job works through other pooled connections in short transactions. If the instance dies,
 * its session ends and the lock goes with it: no lease to expire, no stale lock row.
 *
 * PGlite: one process owns the data folder (lock file), and the embedded server is ONE session, so an
 * advisory lock would exclude nothing and holding its only connection would stall the job itself. The
 * runner's in-process guard is the whole story there.
 */
@Injectable()
export class JobLocks {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async tryAcquire(name: string): Promise<JobLock | null> {
    if (!this.config.databaseUrl) return { release: async () => undefined };
    // Advisory locks are database-wide: metering in a schema of its own locks its own jobs only (another
    // schema's metering, in the same database, runs the same job names on other tables).
    const job = this.config.databaseSchema ? `${this.config.databaseSchema}.${name}` : name;
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = (await runner.query(`SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked`, [JOB_LOCK_NAMESPACE, job])) as Array<{ locked: boolean }>;
      if (!locked) {
        await runner.release();
        return null;
      }
    } catch (error) {
      await runner.release();
      throw error;
    }
    return {
      release: async () => {
        try {
          await runner.query(`SELECT pg_advisory_unlock($1, hashtext($2))`, [JOB_LOCK_NAMESPACE, job]);
        } finally {
          await runner.release();
        }
      },
    };
  }
}
