import { describe, expect, it } from '@jest/globals';
import { Client } from 'pg';
import { FakeClock } from '../src/common/clock/clock';
import { JOB_LOCK_NAMESPACE } from '../src/modules/jobs/job-locks';
import { JobRunner } from '../src/modules/jobs/job-runner.service';
import { JobsScheduler } from '../src/modules/jobs/jobs.scheduler';
import { ADMIN, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';
import { createTestDatabase, ON_POSTGRES } from './utils/test-database';

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function createOrg(t: TestApp, id: string, plan: string): Promise<void> {
  await t.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: id, plan }).expect(201);
}

describe('start-up catch-up', () => {
  it('a service started after two missed month ends closes both, applies the plan change and opens the new allowance', async () => {
    const database = await createTestDatabase({ onDisk: true });
    const clock = new FakeClock('2026-10-15T12:00:00.000Z');
    const org = `catchup-${Math.random().toString(36).slice(2, 7)}`;
    try {
      const first = await startTestApp({ database, clock });
      try {
        await createOrg(first, org, 'starter');
        await first.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ eventType: 'visuals_sketch' }).expect(201); // 12 in October
        clock.set('2026-11-20T09:00:00.000Z');
        await first.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ eventType: 'visuals_planning' }).expect(201); // 8 in November
        await first.http().put(`/api/admin/organizations/${org}/plan`).set(ADMIN).send({ plan: 'professional', effective: 'next_period' }).expect(200);
      } finally {
        await first.close();
      }

      // Down over the ends of October and November; back on December 5th with jobs enabled.
      clock.set('2026-12-05T08:00:00.000Z');
      const second = await startTestApp({ database, clock, config: { jobsEnabled: true } });
      try {
        await second.app.get(JobsScheduler).whenCaughtUp();
        const closes = await second.dataSource.query(`SELECT period_start::text AS p, status FROM period_closes ORDER BY 1`);
        expect(closes).toEqual([
          { p: '2026-10-01', status: 'closed' },
          { p: '2026-11-01', status: 'closed' },
        ]);
        const invoices = await second.dataSource.query(`SELECT period_start::text AS p, plan_name, used_credits::text AS used, total::text AS total FROM invoices WHERE organization_id = $1 ORDER BY 1`, [org]);
        expect(invoices).toEqual([
          { p: '2026-10-01', plan_name: 'starter', used: '12.00', total: '19.00' },
          { p: '2026-11-01', plan_name: 'starter', used: '8.00', total: '19.00' },
        ]);
        const reports = await second.http().get(`/api/organizations/${org}/usage/reports`).set(ADMIN).expect(200);
        expect(reports.body.items.map((r: { period: string }) => r.period)).toEqual(['2026-11', '2026-10']);
        const december = await second.dataSource.query(`SELECT plan_name, allowance::text AS allowance FROM period_balances WHERE organization_id = $1 AND period_start = '2026-12-01'`, [org]);
        expect(december).toEqual([{ plan_name: 'professional', allowance: '5000.00' }]);

        // The catch-up's runs (with jobs enabled, the frequent jobs also tick on their schedules meanwhile).
        const runs = await second.dataSource.query(`SELECT job_name, trigger, status, details FROM job_runs WHERE trigger = 'startup' ORDER BY job_name`);
        expect(runs.map((r: { job_name: string; trigger: string; status: string }) => [r.job_name, r.trigger, r.status])).toEqual([
          ['ledger-reconciliation', 'startup', 'succeeded'],
          ['period-close', 'startup', 'succeeded'],
          ['rollup-refresh', 'startup', 'succeeded'],
          ['usage-partitions', 'startup', 'succeeded'],
        ]);
        expect(runs.find((r: { job_name: string }) => r.job_name === 'period-close').details).toMatchObject({ closed: ['2026-10', '2026-11'] });
        expect(runs.find((r: { job_name: string }) => r.job_name === 'ledger-reconciliation').details).toMatchObject({ discrepancies: 0 });

        // Caught up: a second catch-up finds nothing to do.
        await second.app.get(JobsScheduler).catchUp();
        const rerun = await second.dataSource.query(`SELECT job_name, rows FROM job_runs WHERE job_name = 'period-close' ORDER BY rows`);
        expect(rerun.map((r: { rows: number }) => r.rows)[0]).toBe(0);
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
    }
  }, 180_000); // two on-disk starts of the service: slow on a busy 2-core machine
});

const describeOnPostgres = ON_POSTGRES ? describe : describe.skip;

describeOnPostgres('two instances on one PostgreSQL database', () => {
  it('never run one job at the same time: the advisory lock turns the second away until the first is done', async () => {
    const database = await createTestDatabase();
    const clock = new FakeClock('2026-11-15T12:00:00.000Z');
    const a = await startTestApp({ database, clock });
    const b = await startTestApp({ database, clock });
    const blocker = new Client({ connectionString: database.url });
    await blocker.connect();
    const org = `twin-${Math.random().toString(36).slice(2, 7)}`;
    try {
      await createOrg(a, org, 'starter');
      await a.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ eventType: 'visuals_sketch' }).expect(201);
      clock.set('2026-12-01T02:00:00.000Z');

      // Hold the organization's November balance row: A's close will stop there, mid-run, holding the job lock.
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM period_balances WHERE organization_id = $1 AND period_start = '2026-11-01' FOR UPDATE`, [org]);
      const runOnA = a.http().post('/api/admin/jobs/period-close/run').set(ADMIN).send({}).then((res) => res);
      await waitFor(async () => (await blocker.query(`SELECT count(*)::int AS n FROM job_runs WHERE job_name = 'period-close' AND status = 'running'`)).rows[0].n === 1, 'A to start');
      const locks = await blocker.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, [
        JOB_LOCK_NAMESPACE,
      ]);
      expect(locks.rows[0].n).toBe(1);

      const onB = await b.http().post('/api/admin/jobs/period-close/run').set(ADMIN).send({}).expect(409);
      expect(onB.body.error).toBe('JOB_RUNNING');
      expect(await b.app.get(JobRunner).run('period-close', 'schedule')).toBeNull();
      expect(await a.app.get(JobRunner).run('period-close', 'schedule')).toBeNull();

      await blocker.query('ROLLBACK');
      const done = await runOnA;
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ status: 'succeeded', details: { closed: ['2026-11'] } });

      // Released: B may run it now, and finds nothing left to do.
      const later = await b.http().post('/api/admin/jobs/period-close/run').set(ADMIN).send({}).expect(200);
      expect(later.body).toMatchObject({ status: 'succeeded', rows: 0 });
      const runs = await a.dataSource.query(`SELECT instance_id, status FROM job_runs WHERE job_name = 'period-close' ORDER BY started_at, finished_at`);
      expect(runs.map((r: { status: string }) => r.status)).toEqual(['succeeded', 'succeeded']);
      expect(runs[0].instance_id).not.toBe(runs[1].instance_id);
      const invoices = await a.dataSource.query(`SELECT count(*)::int AS n FROM invoices WHERE organization_id = $1`, [org]);
      expect(invoices).toEqual([{ n: 1 }]);
    } finally {
      await blocker.end().catch(() => undefined);
      await a.close();
      await b.close();
      await database.drop();
    }
  });
});
