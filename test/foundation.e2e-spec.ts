import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirLockedError, EmbeddedPostgres } from '../src/database/embedded-postgres';
import { seedCatalogue } from '../seeds/seed-catalogue';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { ON_POSTGRES } from './utils/test-database';

describe('foundation', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it(`boots on ${ON_POSTGRES ? 'PostgreSQL' : 'PGlite'} with the 16 seeded event types (section 12 and the LLM example) and 4 plans`, async () => {
    const [{ events }] = await t.dataSource.query(`SELECT count(*)::int AS events FROM event_definitions`);
    const [{ plans }] = await t.dataSource.query(`SELECT count(*)::int AS plans FROM plan_definitions`);
    expect(events).toBe(16);
    expect(plans).toBe(4);
    const [{ history }] = await t.dataSource.query(`SELECT count(*)::int AS history FROM definition_versions`);
    expect(history).toBe(20);
  });

  it('answers GET /health with the database up, without a key', async () => {
    const res = await t.http().get('/health').expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.info.database.status).toBe('up');
    expect(res.body.info.cache).toEqual({ status: 'up', backend: 'memory' });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('echoes a caller-supplied request id', async () => {
    const res = await t.http().get('/health').set('x-request-id', 'abc-123').expect(200);
    expect(res.headers['x-request-id']).toBe('abc-123');
  });

  it('serves Prometheus metrics with request counts by route', async () => {
    await t.http().get('/health').expect(200);
    const res = await t.http().get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toMatch(/http_requests_total\{method="GET",route="\/health",status="200"\} \d+/);
    expect(res.text).toMatch(/http_request_duration_seconds_bucket/);
    expect(res.text).toMatch(/process_resident_memory_bytes/);
  });

  it('counts tracked events, credits and refusals in /metrics (a batch adds its totals once per type and code)', async () => {
    const metric = async (line: RegExp) => Number(line.exec((await t.http().get('/metrics').expect(200)).text)?.[1] ?? 0);
    const planning = /^usage_events_tracked_total\{event_type="visuals_planning"\} (\S+)$/m;
    const credits = /^usage_credits_consumed_total (\S+)$/m;
    const closed = /^usage_rejections_total\{code="PERIOD_CLOSED"\} (\S+)$/m;
    const before = { planning: await metric(planning), credits: await metric(credits), closed: await metric(closed) };
    const org = `metrics-${Date.now().toString(36)}`;
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: org, name: org, plan: 'enterprise' }).expect(201);
    const batch = await t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN)
      .send({ events: [{ eventType: 'visuals_planning' }, { eventType: 'visuals_planning' }, { eventType: 'visuals_planning', occurredAt: '2020-01-15T00:00:00.000Z' }] })
      .expect(200);
    const accepted = batch.body.results.filter((r: { status: string }) => r.status === 'accepted');
    expect(accepted).toHaveLength(2);
    expect(await metric(planning)).toBe(before.planning + 2);
    expect(await metric(closed)).toBe(before.closed + 1);
    const charged = accepted.reduce((a: number, r: { result: { creditsConsumed: number } }) => a + r.result.creditsConsumed, 0);
    expect(await metric(credits)).toBeCloseTo(before.credits + charged, 6);
  });

  it('serves the OpenAPI document', async () => {
    const res = await t.http().get('/api/docs-json').expect(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(res.body.paths['/health']).toBeDefined();
  });

  it('answers unknown routes with the error body', async () => {
    const res = await t.http().get('/api/nothing-here').set(ADMIN).expect(404);
    expect(res.body).toEqual({ statusCode: 404, error: 'NOT_FOUND', message: expect.any(String) });
  });

  it('keeps the seed idempotent and never overwrites an operator change', async () => {
    await t.dataSource.query(
      `UPDATE event_definitions SET config = jsonb_set(config, '{baseCredits}', '42'), version = version + 1 WHERE event_type = 'export_pdf'`,
    );
    await t.dataSource.query(`UPDATE plan_definitions SET is_active = false WHERE name = 'free'`);
    const before = await t.dataSource.query(`SELECT event_type, version, config FROM event_definitions ORDER BY event_type`);
    const result = await seedCatalogue(t.dataSource.manager);
    expect(result).toEqual({ eventsInserted: 0, plansInserted: 0 });
    const after = await t.dataSource.query(`SELECT event_type, version, config FROM event_definitions ORDER BY event_type`);
    expect(after).toEqual(before);
    const [pdf] = await t.dataSource.query(`SELECT config FROM event_definitions WHERE event_type = 'export_pdf'`);
    expect(pdf.config.baseCredits).toBe(42);
    const [free] = await t.dataSource.query(`SELECT is_active FROM plan_definitions WHERE name = 'free'`);
    expect(free.is_active).toBe(false);
    const [{ history }] = await t.dataSource.query(`SELECT count(*)::int AS history FROM definition_versions`);
    expect(history).toBe(20);
  });

  it('re-inserts only a missing definition', async () => {
    await t.dataSource.query(`DELETE FROM definition_versions WHERE kind = 'event' AND key = 'push_sow_to_loe'`);
    await t.dataSource.query(`DELETE FROM event_definitions WHERE event_type = 'push_sow_to_loe'`);
    expect(await seedCatalogue(t.dataSource.manager)).toEqual({ eventsInserted: 1, plansInserted: 0 });
    expect(await seedCatalogue(t.dataSource.manager)).toEqual({ eventsInserted: 0, plansInserted: 0 });
  });
});

describe('admin guard', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  // Any admin route: the guard runs before routing reaches a handler, so an existing path is needed.
  const adminPath = '/api/admin/config';

  it.each([
    ['no header', {}],
    ['a malformed header', { Authorization: 'Basic abc' }],
    ['a wrong key', { Authorization: 'Bearer wrong-key-wrong-key' }],
    ['an empty bearer', { Authorization: 'Bearer ' }],
  ])('answers 401 UNAUTHORIZED with %s', async (_name, headers) => {
    const res = await t.http().get(adminPath).set(headers as Record<string, string>).expect(401);
    expect(res.body).toEqual({ statusCode: 401, error: 'UNAUTHORIZED', message: expect.any(String) });
  });

  it('lets the admin key through', async () => {
    await t.http().get(adminPath).set(ADMIN).expect(200);
  });
});

describe('embedded database on disk (PGlite)', () => {
  it('keeps rows across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metering-restart-'));
    try {
      const first = await startTestApp({ config: { databaseUrl: undefined, dataDir: dir } });
      await first.dataSource.query(`UPDATE plan_definitions SET sort_order = 99 WHERE name = 'starter'`);
      await first.app.close();
      const second = await startTestApp({ config: { databaseUrl: undefined, dataDir: dir } });
      const [row] = await second.dataSource.query(`SELECT sort_order FROM plan_definitions WHERE name = 'starter'`);
      expect(row.sort_order).toBe(99);
      // Migrations and seeds ran again at boot and changed nothing.
      const [{ n }] = await second.dataSource.query(`SELECT count(*)::int AS n FROM event_definitions`);
      expect(n).toBe(16);
      await second.app.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second opener of the same folder, in this process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metering-lock-'));
    const first = await EmbeddedPostgres.start(dir);
    try {
      await expect(EmbeddedPostgres.start(dir)).rejects.toBeInstanceOf(DataDirLockedError);
    } finally {
      await first.stop();
    }
    // Released on stop: the folder opens again.
    const again = await EmbeddedPostgres.start(dir);
    await again.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a folder locked by another live process, naming it, and takes over a dead one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metering-lock-'));
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, '.lock'), String(other.pid));
      await expect(EmbeddedPostgres.start(dir)).rejects.toThrow(new RegExp(`in use by process ${other.pid}`));
    } finally {
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
    }
    // The holder died (kill -9 leaves its lock behind): the lock is stale and taken over.
    const db = await EmbeddedPostgres.start(dir);
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});

(ON_POSTGRES ? describe : describe.skip)('health when the database is gone (PostgreSQL)', () => {
  it('answers 503 with the error body and the failing check', async () => {
    const t = await startTestApp();
    try {
      await t.http().get('/health').expect(200);
      await t.database.drop(); // DROP DATABASE … WITH (FORCE): every pooled connection dies with it
      const res = await t.http().get('/health').expect(503);
      expect(res.body).toMatchObject({ statusCode: 503, error: 'SERVICE_UNAVAILABLE' });
      expect(res.body.details.status.error.database.status).toBe('down');
      expect(JSON.stringify(res.body)).not.toMatch(/\.ts:\d+|ECONNREFUSED|password/);
    } finally {
      await t.app.close().catch(() => undefined);
    }
  });
});
