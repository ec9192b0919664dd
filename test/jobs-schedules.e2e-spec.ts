import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { SchedulerRegistry } from '@nestjs/schedule';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createApp } from '../src/app.setup';
import { FakeClock } from '../src/common/clock/clock';
import { APP_CONFIG, ConfigValidationError } from '../src/config/app-config';
import type { AppConfig } from '../src/config/app-config';
import { ADMIN, ADMIN_KEY, startTestApp, TestApp } from './utils/test-app';
import { createTestDatabase, TestDatabase } from './utils/test-database';

/**
 * Schedules come from the validated configuration (@nestjs/config, .env included) and are registered with
 * Nest's SchedulerRegistry; every job, the reservation sweep and webhook delivery included, runs through the
 * job runner when its schedule fires. Tests fire a schedule with CronJob.fireOnTick(): no sleeps.
 */

/** Variables of the real environment that would win over the .env file under test (the e2e run sets some). */
const SHADOWING = ['DATABASE_URL', 'DATA_DIR', 'REDIS_URL', 'NODE_ENV', 'ADMIN_API_KEY', 'LOG_LEVEL', 'JOBS_ENABLED', 'JOB_PERIOD_CLOSE_CRON', 'JOB_WEBHOOK_DELIVERY_SECONDS', 'JOB_RESERVATION_EXPIRY_SECONDS'];

describe('job schedules from configuration', () => {
  let folder: string;
  let database: TestDatabase;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'metering-env-'));
    database = await createTestDatabase();
    for (const name of SHADOWING) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
  });
  afterEach(() => {
    // @nestjs/config copies what it read from the file into process.env: leave the next test a clean one.
    for (const name of SHADOWING) delete process.env[name];
  });
  afterAll(async () => {
    for (const name of SHADOWING) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    rmSync(folder, { recursive: true, force: true });
    await database?.drop();
  });

  function envFile(lines: Record<string, string>): string {
    const file = join(folder, `env-${Object.keys(lines).length}-${Date.now()}`);
    const base: Record<string, string> = { NODE_ENV: 'test', ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'silent', DATA_DIR: database.dataDir };
    if (database.url) base.DATABASE_URL = database.url;
    writeFileSync(file, Object.entries({ ...base, ...lines }).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    return file;
  }

  it('a cron expression and a cadence given only in a .env file are the ones the jobs get', async () => {
    const app = await createApp({ env: { envFilePath: envFile({ JOB_PERIOD_CLOSE_CRON: '17 3 * * *', JOB_WEBHOOK_DELIVERY_SECONDS: '5' }) } });
    try {
      const registry = app.get(SchedulerRegistry);
      expect(registry.getCronJob('period-close').cronTime.source).toBe('17 3 * * *');
      expect(registry.getCronJob('webhook-delivery').cronTime.source).toBe('*/5 * * * * *');
      expect(registry.getCronJob('reservation-expiry').cronTime.source).toBe('*/15 * * * * *');
      expect(registry.getCronJob('rollup-refresh').cronTime.source).toBe('30 0 * * *');
      expect(app.get<AppConfig>(APP_CONFIG).jobSchedules['period-close']).toBe('17 3 * * *');
      // NODE_ENV=test: registered (operators see the schedule) but not started.
      expect(registry.getCronJob('period-close').isActive).toBe(false);
      const overview = await request(app.getHttpServer()).get('/api/admin/jobs').set(ADMIN).expect(200);
      const schedules = Object.fromEntries((overview.body.jobs as Array<{ name: string; schedule: string }>).map((j) => [j.name, j.schedule]));
      expect(schedules).toMatchObject({ 'period-close': '17 3 * * *', 'webhook-delivery': '*/5 * * * * *', 'reservation-expiry': '*/15 * * * * *' });
    } finally {
      await app.close();
    }
  });

  it('a bad cron expression (or cadence) in .env stops the start with one message each', async () => {
    const file = envFile({ JOB_PERIOD_CLOSE_CRON: '61 * * * *', JOB_RECONCILIATION_CRON: 'every night', JOB_RESERVATION_EXPIRY_SECONDS: '7' });
    const error = await createApp({ env: { envFilePath: file } }).then(
      (app) => app.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect((error as ConfigValidationError).problems).toEqual([
      'JOB_PERIOD_CLOSE_CRON must be a cron expression of 5 or 6 fields (got "61 * * * *": Field value (61) is out of range)',
      'JOB_RECONCILIATION_CRON must be a cron expression of 5 or 6 fields (got "every night": has 2 fields)',
      'JOB_RESERVATION_EXPIRY_SECONDS must be a number of seconds that divides a minute: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60 (got "7")',
    ]);
    expect((error as Error).message).toMatch(/^Invalid environment:\n {2}- JOB_PERIOD_CLOSE_CRON/);
  });
});

describe('the reservation sweep and webhook delivery are scheduled, recorded jobs', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  const runsOf = async (job: string) => ((await t.http().get('/api/admin/jobs').set(ADMIN).expect(200)).body.jobs as Array<{ name: string; schedule: string; lastRun: { trigger: string; status: string; rows: number } | null; recentRuns: unknown[] }>).find((j) => j.name === job)!;

  it('are listed with their schedule and never run before their schedule fires', async () => {
    expect(await runsOf('reservation-expiry')).toMatchObject({ schedule: '*/15 * * * * *', lastRun: null });
    expect(await runsOf('webhook-delivery')).toMatchObject({ schedule: '*/2 * * * * *', lastRun: null });
  });

  it('the sweep, fired by its schedule, expires a reservation past its TTL and the run is recorded', async () => {
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'sched-1', name: 'Sched', plan: 'free' }).expect(201);
    const r = await t.http().post('/api/organizations/sched-1/usage/reservations').set(ADMIN).send({ eventType: 'visuals_sketch', ttlSeconds: 60 }).expect(201);
    expect(r.body.remainingCredits).toBe(88);
    clock.advance(61_000);
    await t.app.get(SchedulerRegistry).getCronJob('reservation-expiry').fireOnTick();
    expect((await runsOf('reservation-expiry')).lastRun).toMatchObject({ trigger: 'schedule', status: 'succeeded', rows: 1 });
    expect((await t.http().get('/api/organizations/sched-1/usage').set(ADMIN).expect(200)).body.remaining).toBe(100);
  });

  it('idle runs of the frequent jobs replace one another; runs that did work stay', async () => {
    const cron = t.app.get(SchedulerRegistry).getCronJob('reservation-expiry');
    for (let i = 0; i < 3; i++) {
      clock.advance(15_000);
      await cron.fireOnTick();
    }
    const job = await runsOf('reservation-expiry');
    expect(job.lastRun).toMatchObject({ trigger: 'schedule', status: 'succeeded', rows: 0 });
    expect(job.recentRuns).toEqual([expect.objectContaining({ rows: 0 }), expect.objectContaining({ rows: 1 })]);
  });

  it('webhook delivery, fired by its schedule, sends the due delivery and records the run', async () => {
    const received: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
      await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'sched-2', name: 'Sched', plan: 'free', webhookUrl: url }).expect(201);
      // 60 + 20 credits of 100: the 80 % threshold is crossed, which queues one delivery.
      await t.http().post('/api/organizations/sched-2/usage/events').set(ADMIN).send({ eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201);
      await t.http().post('/api/organizations/sched-2/usage/events').set(ADMIN).send({ eventType: 'solutioning_hyper_canvas', eventData: { complexity: 1 } }).expect(201);
      expect(received).toHaveLength(0); // nothing is sent until the schedule fires
      await t.app.get(SchedulerRegistry).getCronJob('webhook-delivery').fireOnTick();
      expect(received).toHaveLength(1);
      expect(JSON.parse(received[0])).toMatchObject({ event: 'usage.threshold_crossed', data: { organizationId: 'sched-2', threshold: 0.8 } });
      expect((await runsOf('webhook-delivery')).lastRun).toMatchObject({ trigger: 'schedule', status: 'succeeded', rows: 1 });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
