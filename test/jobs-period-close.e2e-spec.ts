import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { FakeClock } from '../src/common/clock/clock';
import { JobRunner } from '../src/modules/jobs/job-runner.service';
import { ledgerState } from './utils/ledger-checks';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';

/** Everything the period close and the rollups write: a rerun of any job must leave it exactly as it was. */
async function jobState(ds: DataSource) {
  const q = (sql: string) => ds.query(sql);
  return {
    closes: await q(`SELECT period_start::text, status, organizations FROM period_closes ORDER BY 1`),
    invoices: await q(`SELECT organization_id, period_start::text, plan_name, total::text, lines FROM invoices ORDER BY 1, 2`),
    reports: await q(`SELECT organization_id, period_start::text, report, csv FROM monthly_reports ORDER BY 1, 2`),
    balances: await q(`SELECT organization_id, period_start::text, plan_name, allowance::text, consumed::text, events FROM period_balances ORDER BY 1, 2`),
    organizations: await q(`SELECT id, plan_name, pending_plan, pending_plan_from FROM organizations ORDER BY 1`),
    daily: await q(`SELECT organization_id, day::text, event_type, category, user_id, events, credits::text, overage::text FROM usage_rollups_daily ORDER BY 1, 2, 3, 4, 5`),
    monthly: await q(`SELECT organization_id, period_start::text, event_type, category, user_id, events, credits::text, overage::text FROM usage_rollups_monthly ORDER BY 1, 2, 3, 4, 5`),
    alerts: await q(`SELECT organization_id, id, kind, status, resolution FROM reconciliation_alerts ORDER BY 1, 2`),
  };
}

/**
 * A fake clock walks an organization through January and the leap February of 2028: rollups at the month
 * edges, the grace window, the close (invoice, report, plan change, new allowance), PERIOD_CLOSED, reruns.
 */
describe('period close across month ends (leap February 2028)', () => {
  let t: TestApp;
  const clock = new FakeClock('2028-01-31T23:00:00.000Z');
  const suffix = Math.random().toString(36).slice(2, 7);
  const A = `close-a-${suffix}`; // starter, monthly: goes into overage in February
  const B = `close-b-${suffix}`; // professional, annual: moves to enterprise from March
  const C = `close-c-${suffix}`; // free, never uses anything: still invoiced ($0)

  const track = (org: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).set(headers).send(body);
  const runJob = (name: string, params: Record<string, unknown> = {}) => t.http().post(`/api/admin/jobs/${name}/run`).set(ADMIN).send(params);
  const get = (path: string) => t.http().get(path).set(ADMIN);

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: A, name: 'Acme, "the" shop', plan: 'starter' }).expect(201);
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: B, name: 'Beta', plan: 'professional', billingCycle: 'annual' }).expect(201);
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: C, name: 'Gamma', plan: 'free' }).expect(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('rolls events up on the UTC day and month of their instant, edges included', async () => {
    clock.set('2028-01-31T23:30:00.000Z');
    await track(A, { eventType: 'visuals_sketch', userId: 'u1' }).expect(201); // 12, Jan 31
    clock.set('2028-02-01T00:00:00.000Z');
    const feb = await track(A, { eventType: 'visuals_planning' }).expect(201); // 8: an instant at a month start is the new month
    expect(feb.body.period.start).toBe('2028-02-01T00:00:00.000Z');
    await track(A, { eventType: 'push_sow_to_loe', occurredAt: '2028-01-31T23:59:59.999Z' }).expect(201); // 1, late but January is open
    const daily = await t.dataSource.query(`SELECT day::text AS day, sum(events)::int AS events, sum(credits)::text AS credits FROM usage_rollups_daily WHERE organization_id = $1 GROUP BY 1 ORDER BY 1`, [A]);
    expect(daily).toEqual([
      { day: '2028-01-31', events: 2, credits: '13.000000' },
      { day: '2028-02-01', events: 1, credits: '8.000000' },
    ]);
    const monthly = await t.dataSource.query(`SELECT period_start::text AS p, sum(credits)::text AS credits FROM usage_rollups_monthly WHERE organization_id = $1 GROUP BY 1 ORDER BY 1`, [A]);
    expect(monthly).toEqual([
      { p: '2028-01-01', credits: '13.000000' },
      { p: '2028-02-01', credits: '8.000000' },
    ]);
  });

  it('does not close a period inside its grace window', async () => {
    clock.set('2028-02-01T00:59:59.999Z');
    const run = await runJob('period-close').expect(200);
    expect(run.body).toMatchObject({ job: 'period-close', trigger: 'manual', status: 'succeeded', rows: 0, details: { due: [], closed: [] } });
    const invoice = await get(`/api/organizations/${A}/usage/invoice?period=2028-01`).expect(200);
    expect(invoice.body.status).toBe('pending_close');
  });

  it('closes January an hour after it ended: invoices, reports, the February allowance', async () => {
    clock.set('2028-02-01T01:00:00.000Z');
    const run = await runJob('period-close').expect(200);
    expect(run.body).toMatchObject({ status: 'succeeded', details: { due: ['2028-01'], closed: ['2028-01'], deferred: {}, recounted: {} } });
    expect(run.body.rows).toBeGreaterThanOrEqual(6); // 3 invoices + 3 reports (+ February rows opened for B and C)

    const invoiceA = await get(`/api/organizations/${A}/usage/invoice?period=2028-01`).expect(200);
    expect(invoiceA.body).toMatchObject({ period: '2028-01', status: 'final', plan: 'starter', planPrice: 19, includedCredits: 1000, usedCredits: 13, overageCredits: 0, overageCost: 0, total: 19 });
    const invoiceB = await get(`/api/organizations/${B}/usage/invoice?period=2028-01`).expect(200);
    expect(invoiceB.body).toMatchObject({ status: 'final', billingCycle: 'annual', plan: 'professional', planPrice: 40.83, usedCredits: 0, total: 40.83 });
    const invoiceC = await get(`/api/organizations/${C}/usage/invoice?period=2028-01`).expect(200);
    expect(invoiceC.body).toMatchObject({ status: 'final', plan: 'free', planPrice: 0, total: 0 });

    const report = await get(`/api/organizations/${A}/usage/reports/2028-01`).expect(200);
    expect(report.body).toMatchObject({ organizationId: A, period: '2028-01', totals: { events: 2, credits: 13 }, invoice: { total: 19 } });
    expect(report.body.byDay).toHaveLength(31);
    expect(report.body.byDay[30]).toEqual({ day: '2028-01-31', events: 2, credits: 13, overageCredits: 0 });
    expect(report.body.byUser).toEqual([
      { userId: 'u1', events: 1, credits: 12, overageCredits: 0 },
      { userId: null, events: 1, credits: 1, overageCredits: 0 },
    ]);
    const csv = await get(`/api/organizations/${A}/usage/reports/2028-01`).set('Accept', 'text/csv').expect(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.text).toContain('total,2028-01,,2,13.00,0.00,\r\n');
    expect(csv.text).toContain('day,2028-01-31,,2,13.00,0.00,\r\n');
    const list = await get(`/api/organizations/${A}/usage/reports`).expect(200);
    expect(list.body.items).toEqual([{ period: '2028-01', createdAt: '2028-02-01T01:00:00.000Z', totals: expect.objectContaining({ credits: 13 }), invoiceTotal: 19 }]);

    const february = await t.dataSource.query(
      `SELECT organization_id, plan_name, allowance::text FROM period_balances WHERE period_start = '2028-02-01' AND organization_id = ANY($1) ORDER BY 1`,
      [[A, B, C]],
    );
    expect(february).toEqual([
      { organization_id: A, plan_name: 'starter', allowance: '1000.00' },
      { organization_id: B, plan_name: 'professional', allowance: '5000.00' },
      { organization_id: C, plan_name: 'free', allowance: '100.00' },
    ]);
  });

  it('refuses events for the closed period with 422 PERIOD_CLOSED, writing nothing', async () => {
    const before = await ledgerState(t.dataSource, A);
    const res = await track(A, { eventType: 'visuals_planning', occurredAt: '2028-01-31T12:00:00.000Z' }, { 'Idempotency-Key': 'late-jan' }).expect(422);
    expect(res.body).toEqual({ statusCode: 422, error: 'PERIOD_CLOSED', message: expect.stringContaining('2028-01'), details: { period: '2028-01', start: '2028-01-01T00:00:00.000Z', end: '2028-02-01T00:00:00.000Z' } });
    // An organization created after the close cannot slip an event into the closed period either.
    const late = `close-late-${suffix}`;
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: late, name: 'Late', plan: 'starter' }).expect(201);
    await track(late, { eventType: 'visuals_planning', occurredAt: '2028-01-15T00:00:00.000Z' }).expect(422);
    expect(await t.dataSource.query(`SELECT * FROM period_balances WHERE organization_id = $1 AND period_start = '2028-01-01'`, [late])).toEqual([]);
    // In a batch, only the January item is refused.
    const batch = await track(A, { events: [{ eventType: 'push_sow_to_loe', occurredAt: '2028-01-20T00:00:00.000Z' }, { eventType: 'push_sow_to_loe' }] }).expect(200);
    expect(batch.body.results.map((r: { status: string }) => r.status)).toEqual(['rejected', 'accepted']);
    expect(batch.body.results[0].error).toMatchObject({ statusCode: 422, error: 'PERIOD_CLOSED' });
    const after = await ledgerState(t.dataSource, A);
    expect(after.events.n).toBe(before.events.n + 1);
    expect(await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_events WHERE organization_id = $1 AND occurred_at < '2028-02-01'`, [A])).toEqual([{ n: 2 }]);
    expect(await t.dataSource.query(`SELECT count(*)::int AS n, sum(credits)::text AS c FROM usage_rollups_daily WHERE organization_id = $1 AND day < '2028-02-01'`, [A])).toEqual([{ n: 2, c: '13.000000' }]);
    // The refused request did not burn its idempotency key.
    await track(A, { eventType: 'push_sow_to_loe' }, { 'Idempotency-Key': 'late-jan' }).expect(201);
  });

  it('the close refuses an event that got past the early check: consume_credits sees the close under the lock', async () => {
    // The tracker's early check is skipped by calling the SQL function directly, as a racing transaction would.
    // A grace window of a month keeps the time rule from answering first: only the close mark refuses it.
    const [r] = await t.dataSource.query(`SELECT * FROM consume_credits($1, '2028-01-01'::date, 5, NULL, $2, 44640)`, [A, clock.now()]);
    expect(r).toMatchObject({ status: 'PERIOD_CLOSED', from_allowance: '0', overage: '0' });
    const [b] = await t.dataSource.query(`SELECT consumed::text FROM period_balances WHERE organization_id = $1 AND period_start = '2028-01-01'`, [A]);
    expect(b.consumed).toBe('13.000000');
  });

  it('running any job twice changes nothing', async () => {
    for (const job of ['period-close', 'rollup-refresh', 'usage-partitions', 'ledger-reconciliation']) {
      await runJob(job).expect(200);
      const once = await jobState(t.dataSource);
      const again = await runJob(job).expect(200);
      expect(again.body.status).toBe('succeeded');
      expect(await jobState(t.dataSource)).toEqual(once);
    }
    const period = await runJob('rollup-refresh', { period: '2028-01' }).expect(200);
    expect(period.body).toMatchObject({ status: 'succeeded', params: { period: '2028-01' } });
    const before = await jobState(t.dataSource);
    await runJob('rollup-refresh', { period: '2028-01', organizationId: A }).expect(200);
    expect(await jobState(t.dataSource)).toEqual(before);
  });

  it('closes the leap February with overage, applies the next-period plan change and opens March', async () => {
    clock.set('2028-02-10T10:00:00.000Z');
    await t.http().put(`/api/admin/organizations/${B}/plan`).set(ADMIN).send({ plan: 'enterprise', effective: 'next_period' }).expect(200);
    clock.set('2028-02-29T13:00:00.000Z');
    // February so far: 8 + 1 + 1 = 10. Then 20 x 60 = 1,200 on the 29th: 990 from the allowance, 210 overage.
    const events = Array.from({ length: 20 }, () => ({ eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 }, userId: 'u2', occurredAt: '2028-02-29T12:00:00.000Z' }));
    await track(A, { events }).expect(200);
    const leapDay = await get(`/api/organizations/${A}/usage/breakdown?groupBy=day&from=2028-02-01&to=2028-02-29`).expect(200);
    expect(leapDay.body.items).toHaveLength(29);
    expect(leapDay.body.items[28]).toEqual({ day: '2028-02-29', events: 20, credits: 1200, overageCredits: 210, percent: 99.17 });
    // In March, within the grace window, a late February event still lands in February.
    clock.set('2028-03-01T00:30:00.000Z');
    await track(A, { eventType: 'push_sow_to_loe', occurredAt: '2028-02-29T23:59:59.999Z' }).expect(201);
    expect((await get(`/api/organizations/${A}/usage/invoice?period=2028-02`).expect(200)).body).toMatchObject({ status: 'pending_close', usedCredits: 1211, overageCredits: 211, overageCost: 4.22, total: 23.22 });

    // Someone writes around the tracker: A's rollups no longer sum to its balance. The close notices (it
    // checks rollups against the balance, not the raw events) and recounts A only; B and C are frozen
    // from their rollups as they are.
    await t.dataSource.query(`UPDATE usage_rollups_daily SET credits = credits + 5 WHERE organization_id = $1 AND day = '2028-02-29' AND event_type = 'solutioning_hyper_canvas'`, [A]);
    clock.set('2028-03-01T01:00:00.000Z');
    const run = await runJob('period-close').expect(200);
    expect(run.body.details).toMatchObject({ due: ['2028-02'], closed: ['2028-02'], recounted: { '2028-02': [A] } });
    const invoice = await get(`/api/organizations/${A}/usage/invoice?period=2028-02`).expect(200);
    expect(invoice.body).toMatchObject({ status: 'final', plan: 'starter', includedCredits: 1000, usedCredits: 1211, overageCredits: 211, overageRate: 0.02, overageCost: 4.22, planPrice: 19, total: 23.22 });
    const report = await get(`/api/organizations/${A}/usage/reports/2028-02?format=csv`).expect(200);
    expect(report.text).toContain('day,2028-02-29,,21,1201.00,211.00,\r\n');
    expect(report.text).toContain('invoice,total,,,,,23.22\r\n');
    const json = await get(`/api/organizations/${A}/usage/reports/2028-02`).expect(200);
    expect(json.body.byDay).toHaveLength(29);
    expect(json.body.totals).toEqual({ events: 24, credits: 1211, overageCredits: 211, allowance: 1000, allowanceUsed: 1000, topUpsUsed: 0 });
    expect(json.body.byEventType[0]).toEqual({ eventType: 'solutioning_hyper_canvas', category: 'ai_solutioning', events: 20, credits: 1200, overageCredits: 210 });

    // B's invoice is professional's (annual) for February; from March it is on enterprise with its allowance.
    expect((await get(`/api/organizations/${B}/usage/invoice?period=2028-02`).expect(200)).body).toMatchObject({ plan: 'professional', total: 40.83 });
    const orgB = await t.http().get(`/api/admin/organizations/${B}`).set(ADMIN).expect(200);
    expect(orgB.body).toMatchObject({ plan: 'enterprise', pendingPlan: null });
    const march = await t.dataSource.query(`SELECT organization_id, plan_name, allowance::text FROM period_balances WHERE period_start = '2028-03-01' AND organization_id = ANY($1) ORDER BY 1`, [[A, B, C]]);
    expect(march).toEqual([
      { organization_id: A, plan_name: 'starter', allowance: '1000.00' },
      { organization_id: B, plan_name: 'enterprise', allowance: '15000.00' },
      { organization_id: C, plan_name: 'free', allowance: '100.00' },
    ]);
    const summary = await get(`/api/organizations/${B}/usage`).expect(200);
    expect(summary.body).toMatchObject({ plan: { name: 'enterprise' }, allowance: 15000, used: 0 });

    const reports = await get(`/api/organizations/${A}/usage/reports`).expect(200);
    expect(reports.body.items.map((r: { period: string; invoiceTotal: number }) => [r.period, r.invoiceTotal])).toEqual([
      ['2028-02', 23.22],
      ['2028-01', 19],
    ]);
    await track(A, { eventType: 'push_sow_to_loe', occurredAt: '2028-02-29T23:59:59.999Z' }).expect(422);
  });

  it('reconciles: clean ledger, then a tampered balance (alert) and tampered rollups (repaired)', async () => {
    const clean = await runJob('ledger-reconciliation').expect(200);
    expect(clean.body.details).toMatchObject({ periods: ['2028-02', '2028-03'], discrepancies: 0, repairedRollups: 0 });

    await t.dataSource.query(`UPDATE period_balances SET consumed = consumed + 1, allowance_used = allowance_used + 1 WHERE organization_id = $1 AND period_start = '2028-03-01'`, [C]);
    await t.dataSource.query(`UPDATE usage_rollups_daily SET credits = credits + 5 WHERE organization_id = $1 AND day = '2028-02-29' AND user_id = 'u2'`, [A]);
    const found = await runJob('ledger-reconciliation').expect(200);
    expect(found.body.details).toMatchObject({ discrepancies: 1, raised: 1, repairedRollups: 1 });
    const raw = await t.dataSource.query(`SELECT sum(credits)::text AS c FROM usage_events WHERE organization_id = $1 AND occurred_at >= '2028-02-29' AND occurred_at < '2028-03-01'`, [A]);
    const rolled = await t.dataSource.query(`SELECT sum(credits)::text AS c FROM usage_rollups_daily WHERE organization_id = $1 AND day = '2028-02-29'`, [A]);
    expect(rolled).toEqual(raw);

    const alerts = await get('/api/admin/jobs/alerts?status=all').expect(200);
    const mine = alerts.body.items.filter((a: { organizationId: string }) => [A, C].includes(a.organizationId));
    expect(mine).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ organizationId: C, kind: 'balance_mismatch', period: '2028-03', status: 'open', details: expect.objectContaining({ balance: expect.objectContaining({ consumed: '1.000000' }), ledger: expect.objectContaining({ consumed: '0' }) }) }),
        expect.objectContaining({ organizationId: A, kind: 'rollup_mismatch', period: '2028-02', status: 'resolved', resolution: 'repaired' }),
      ]),
    );
    expect(mine).toHaveLength(2);

    const state = await jobState(t.dataSource);
    const again = await runJob('ledger-reconciliation').expect(200);
    expect(again.body.details).toMatchObject({ discrepancies: 1, raised: 0, repairedRollups: 0, resolved: 0 });
    expect(await jobState(t.dataSource)).toEqual(state);
    const overview = await get('/api/admin/jobs').expect(200);
    expect(overview.body.alerts.open).toBeGreaterThanOrEqual(1);

    await t.dataSource.query(`UPDATE period_balances SET consumed = consumed - 1, allowance_used = allowance_used - 1 WHERE organization_id = $1 AND period_start = '2028-03-01'`, [C]);
    const fixed = await runJob('ledger-reconciliation').expect(200);
    expect(fixed.body.details).toMatchObject({ discrepancies: 0, resolved: 1 });
    const open = await get('/api/admin/jobs/alerts').expect(200);
    expect(open.body.items.filter((a: { organizationId: string }) => [A, C].includes(a.organizationId))).toEqual([]);
  });

  it('lists jobs with schedules and recent runs; runs one at a time; 404 for an unknown job', async () => {
    const res = await get('/api/admin/jobs').expect(200);
    expect(res.body.jobs.map((j: { name: string }) => j.name).sort()).toEqual(['ledger-reconciliation', 'period-close', 'reservation-expiry', 'rollup-refresh', 'usage-partitions', 'webhook-delivery']);
    const close = res.body.jobs.find((j: { name: string }) => j.name === 'period-close');
    expect(close).toMatchObject({ schedule: '5 * * * *', scheduled: false, runningHere: false, lastRun: { status: 'succeeded', trigger: 'manual' } });
    expect(close.recentRuns.length).toBeGreaterThanOrEqual(3);
    expect(close.recentRuns[0]).toEqual(expect.objectContaining({ startedAt: '2028-03-01T01:00:00.000Z', finishedAt: expect.any(String), durationMs: expect.any(Number), rows: expect.any(Number) }));

    const runner = t.app.get(JobRunner);
    const [first, second] = await Promise.all([runner.run('period-close', 'manual'), runner.run('period-close', 'manual')]);
    expect([first?.status, second]).toEqual(['succeeded', null]);

    const missing = await runJob('nope').expect(404);
    expect(missing.body.error).toBe('JOB_NOT_FOUND');
    await runJob('rollup-refresh', { period: 'March' }).expect(400);
    await runJob('rollup-refresh', { unknown: 1 }).expect(400);
    await t.http().get('/api/admin/jobs').expect(401);
  });

  it('creates the usage_events partitions of the coming months', async () => {
    await runJob('usage-partitions').expect(200);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('usage_events_2028_03', 'usage_events_2028_04', 'usage_events_2028_05')`);
    expect(n).toBe(3);
    const again = await runJob('usage-partitions').expect(200);
    expect(again.body).toMatchObject({ rows: 0, details: { created: [] } });
  });
});
