import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { issueKey } from './utils/security-fixtures';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { createOrg as newOrg } from './utils/factories';

/**
 * Analytics over rollups (docs/analytics.md), with a fake clock at 2026-11-15 12:00 UTC. Every expected number below is
 * computed by hand from the events each test tracks.
 */
describe('usage analytics', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  const createOrg = (plan: string, extra: Record<string, unknown> = {}): Promise<string> => newOrg(t, plan, { prefix: 'an', ...extra });
  /**
   * Tracks events as they happened: an event of an earlier month than the clock's is sent with the clock at
   * its own time (a period past its grace window takes no event, SPEC 5), then the clock comes back.
   */
  async function batch(id: string, events: Array<Record<string, unknown>>): Promise<void> {
    const now = clock.now();
    const monthOf = (at: Date) => at.toISOString().slice(0, 7);
    const earlier = events.filter((e) => typeof e.occurredAt === 'string' && monthOf(new Date(e.occurredAt)) < monthOf(now));
    const current = events.filter((e) => !earlier.includes(e));
    for (const e of earlier) {
      clock.set(new Date(new Date(e.occurredAt as string).getTime() + 60_000));
      try {
        await t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).send(e).expect(201);
      } finally {
        clock.set(now);
      }
    }
    if (current.length === 0) return;
    const res = await t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).send({ events: current }).expect(200);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(current.map(() => 'accepted'));
  }
  const get = (path: string) => t.http().get(path).set(ADMIN);
  const times = (n: number, event: Record<string, unknown>) => Array.from({ length: n }, () => event);

  describe('an organization on professional with mixed usage', () => {
    let org: string;
    beforeAll(async () => {
      org = await createOrg('professional');
      await batch(org, [
        { eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true }, userId: 'u1', occurredAt: '2026-10-20T09:00:00.000Z' }, // 25, October
        { eventType: 'visuals_sketch', userId: 'u1', occurredAt: '2026-11-03T10:00:00.000Z' }, // 12
        { eventType: 'visuals_planning', userId: 'u2', occurredAt: '2026-11-03T10:00:00.000Z' }, // 8, same instant
        { eventType: 'export_pdf', occurredAt: '2026-11-10T23:59:59.999Z' }, // 2, no user
        { eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true }, userId: 'u2', occurredAt: '2026-11-10T00:00:00.000Z' }, // 25
        { eventType: 'push_sow_to_loe', userId: 'u1', occurredAt: '2026-11-15T11:00:00.000Z' }, // 1
      ]);
    });

    it('keeps daily and monthly rollups equal to the raw events, in the tracking transaction', async () => {
      const raw = await t.dataSource.query(
        `SELECT (occurred_at AT TIME ZONE 'UTC')::date::text AS day, event_type, category, coalesce(user_id, '') AS user_id, count(*)::int AS events, sum(credits)::text AS credits
           FROM usage_events WHERE organization_id = $1 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 4`,
        [org],
      );
      const daily = await t.dataSource.query(
        `SELECT day::text AS day, event_type, category, user_id, events::int AS events, credits::text AS credits FROM usage_rollups_daily WHERE organization_id = $1 ORDER BY 1, 2, 4`,
        [org],
      );
      expect(daily).toEqual(raw);
      const monthly = await t.dataSource.query(
        `SELECT period_start::text AS period, sum(events)::int AS events, sum(credits)::text AS credits FROM usage_rollups_monthly WHERE organization_id = $1 GROUP BY 1 ORDER BY 1`,
        [org],
      );
      expect(monthly).toEqual([
        { period: '2026-10-01', events: 1, credits: '25.000000' },
        { period: '2026-11-01', events: 5, credits: '48.000000' },
      ]);
    });

    it('breaks the current period down by event type, category, user and day', async () => {
      const byType = await get(`/api/organizations/${org}/usage/breakdown`).expect(200);
      expect(byType.body).toMatchObject({ groupBy: 'eventType', from: '2026-11-01', to: '2026-11-15', totals: { events: 5, credits: 48, overageCredits: 0 } });
      expect(byType.body.items).toEqual([
        { eventType: 'structuring_diagnose', displayName: 'Structuring: Diagnose', category: 'ai_analysis', events: 1, credits: 25, overageCredits: 0, percent: 52.08 },
        { eventType: 'visuals_sketch', displayName: 'Visuals: Sketch', category: 'ai_visual', events: 1, credits: 12, overageCredits: 0, percent: 25 },
        { eventType: 'visuals_planning', displayName: 'Visuals: Planning', category: 'ai_visual', events: 1, credits: 8, overageCredits: 0, percent: 16.67 },
        { eventType: 'export_pdf', displayName: 'Export: PDF', category: 'export', events: 1, credits: 2, overageCredits: 0, percent: 4.17 },
        { eventType: 'push_sow_to_loe', displayName: 'Push: SOW to LOE', category: 'data_transfer', events: 1, credits: 1, overageCredits: 0, percent: 2.08 },
      ]);
      const byCategory = await get(`/api/organizations/${org}/usage/breakdown?groupBy=category`).expect(200);
      expect(byCategory.body.items.map((i: { category: string; credits: number }) => [i.category, i.credits])).toEqual([
        ['ai_analysis', 25],
        ['ai_visual', 20],
        ['export', 2],
        ['data_transfer', 1],
      ]);
      const byUser = await get(`/api/organizations/${org}/usage/breakdown?groupBy=user`).expect(200);
      expect(byUser.body.items.map((i: { userId: string | null; events: number; credits: number }) => [i.userId, i.events, i.credits])).toEqual([
        ['u2', 2, 33],
        ['u1', 2, 13],
        [null, 1, 2],
      ]);
      const byDay = await get(`/api/organizations/${org}/usage/breakdown?groupBy=day&from=2026-11-01&to=2026-11-15`).expect(200);
      expect(byDay.body.items).toHaveLength(15);
      expect(byDay.body.items.filter((d: { credits: number }) => d.credits > 0).map((d: { day: string; events: number; credits: number }) => [d.day, d.events, d.credits])).toEqual([
        ['2026-11-03', 2, 20],
        ['2026-11-10', 2, 27],
        ['2026-11-15', 1, 1],
      ]);
    });

    it('answers ranges across months from monthly rollups for whole months and daily ones at the edges', async () => {
      const whole = await get(`/api/organizations/${org}/usage/breakdown?from=2026-10-01&to=2026-11-30`).expect(200);
      expect(whole.body.totals).toEqual({ events: 6, credits: 73, overageCredits: 0 });
      expect(whole.body.items[0]).toMatchObject({ eventType: 'structuring_diagnose', events: 2, credits: 50 });
      const october = await get(`/api/organizations/${org}/usage/breakdown?to=2026-10-31`).expect(200); // from: that period's start
      expect(october.body).toMatchObject({ from: '2026-10-01', to: '2026-10-31', totals: { events: 1, credits: 25 } });
      const edges = await get(`/api/organizations/${org}/usage/breakdown?groupBy=user&from=2026-10-20&to=2026-11-09`).expect(200);
      expect(edges.body.items.map((i: { userId: string; credits: number }) => [i.userId, i.credits])).toEqual([
        ['u1', 37],
        ['u2', 8],
      ]);
    });

    it('shows monthly trends with month-over-month change', async () => {
      const res = await get(`/api/organizations/${org}/usage/trends?months=3`).expect(200);
      expect(res.body.items).toEqual([
        { period: '2026-09', start: '2026-09-01T00:00:00.000Z', end: '2026-10-01T00:00:00.000Z', events: 0, credits: 0, overageCredits: 0, change: { events: 0, credits: 0, percent: null } },
        { period: '2026-10', start: '2026-10-01T00:00:00.000Z', end: '2026-11-01T00:00:00.000Z', events: 1, credits: 25, overageCredits: 0, change: { events: 1, credits: 25, percent: null } },
        { period: '2026-11', start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z', events: 5, credits: 48, overageCredits: 0, change: { events: 4, credits: 23, percent: 92 } },
      ]);
      const six = await get(`/api/organizations/${org}/usage/trends`).expect(200);
      expect(six.body.items.map((m: { period: string }) => m.period)).toEqual(['2026-06', '2026-07', '2026-08', '2026-09', '2026-10', '2026-11']);
    });

    it('pages through the event log newest first with a cursor, and filters it', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: { body: { items: Array<{ occurredAt: string; eventType: string }>; nextCursor: string | null } } = await get(`/api/organizations/${org}/usage/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`).expect(200);
        seen.push(...res.body.items.map((e: { occurredAt: string; eventType: string }) => `${e.occurredAt} ${e.eventType}`));
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toHaveLength(6);
      expect(seen[0]).toBe('2026-11-15T11:00:00.000Z push_sow_to_loe');
      expect(seen[5]).toBe('2026-10-20T09:00:00.000Z structuring_diagnose');
      expect(new Set(seen).size).toBe(6); // the two events of the same instant are both there, once

      const first = await get(`/api/organizations/${org}/usage/events?limit=1`).expect(200);
      expect(first.body.items[0]).toMatchObject({ eventType: 'push_sow_to_loe', category: 'data_transfer', userId: 'u1', credits: 1, fromAllowance: 1, fromTopUps: 0, overageCredits: 0, definitionVersion: 1 });

      const filtered = async (query: string) => (await get(`/api/organizations/${org}/usage/events?${query}`).expect(200)).body.items.length;
      expect(await filtered('eventType=structuring_diagnose')).toBe(2);
      expect(await filtered('userId=u1')).toBe(3);
      expect(await filtered('from=2026-11-01T00:00:00Z&to=2026-11-10T00:00:00Z')).toBe(2);
      expect(await filtered('from=2026-11-10T00:00:00Z&userId=u2')).toBe(1);

      const bad = await get(`/api/organizations/${org}/usage/events?cursor=not-a-cursor`).expect(400);
      expect(bad.body.error).toBe('VALIDATION_FAILED');
      await get(`/api/organizations/${org}/usage/events?limit=0`).expect(400);
      await get(`/api/organizations/${org}/usage/events?limit=1001`).expect(400);
      await get(`/api/organizations/${org}/usage/events?limit=1001&format=csv`).expect(200);
      await get(`/api/organizations/${org}/usage/events?from=2026-11-10T00:00:00Z&to=2026-11-01T00:00:00Z`).expect(400);
    });

    it('streams the event log as CSV for format=csv or Accept: text/csv', async () => {
      const res = await get(`/api/organizations/${org}/usage/events?format=csv`).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      expect(res.headers['content-disposition']).toMatch(/attachment; filename="usage-events-/);
      const lines = res.text.trimEnd().split('\r\n');
      expect(lines[0]).toBe('id,occurred_at,recorded_at,event_type,category,user_id,credits,from_allowance,from_grants,overage,definition_version,idempotency_key,endpoint,stop_reason');
      expect(lines).toHaveLength(7);
      expect(lines[1]).toMatch(/^[0-9a-f-]{36},2026-11-15T11:00:00\.000000Z,2026-11-15T12:00:00\.000Z,push_sow_to_loe,data_transfer,u1,1\.000000,1\.000000,0\.000000,0\.000000,1,,/);
      const accepted = await get(`/api/organizations/${org}/usage/events?userId=u2`).set('Accept', 'text/csv').expect(200);
      expect(accepted.text.trimEnd().split('\r\n')).toHaveLength(3);
      const limited = await get(`/api/organizations/${org}/usage/events?format=csv&limit=2`).expect(200);
      expect(limited.text.trimEnd().split('\r\n')).toHaveLength(3);
    });

    it('answers an organization key with the read scope for its own organization only', async () => {
      const reader = await issueKey(t, org, ['read']);
      const tracker = await issueKey(t, org, ['track']);
      const other = await createOrg('starter');
      for (const path of ['breakdown', 'trends', 'forecast', 'recommendation', 'invoice', 'events', 'reports']) {
        await t.http().get(`/api/organizations/${org}/usage/${path}`).set(reader.headers).expect(200);
        await t.http().get(`/api/organizations/${other}/usage/${path}`).set(reader.headers).expect(404);
        await t.http().get(`/api/organizations/${org}/usage/${path}`).set(tracker.headers).expect(403);
      }
    });

    it('validates its queries', async () => {
      const bad = await get(`/api/organizations/${org}/usage/breakdown?groupBy=plan&from=20261101`).expect(400);
      expect(Object.keys(bad.body.details.fields).sort()).toEqual(['from', 'groupBy']);
      await get(`/api/organizations/${org}/usage/breakdown?from=2026-02-30`).expect(400);
      await get(`/api/organizations/${org}/usage/breakdown?from=2026-11-10&to=2026-11-01`).expect(400);
      await get(`/api/organizations/${org}/usage/breakdown?groupBy=day&from=2025-01-01&to=2026-11-01`).expect(400);
      await get(`/api/organizations/${org}/usage/trends?months=0`).expect(400);
      await get(`/api/organizations/${org}/usage/invoice?period=2026-12`).expect(400);
      await get(`/api/organizations/${org}/usage/reports/2026-10`).expect(404);
      const missing = await get(`/api/organizations/nobody-here/usage/forecast`).expect(404);
      expect(missing.body.error).toBe('ORGANIZATION_NOT_FOUND');
      await t.http().get(`/api/organizations/${org}/usage/breakdown`).expect(401);
    });
  });

  describe('forecast and recommendation', () => {
    let org: string;
    beforeAll(async () => {
      org = await createOrg('starter');
      await t.http().post(`/api/admin/organizations/${org}/credits`).set(ADMIN).send({ amount: 500 }).expect(201);
      // 300 credits before the window, then 700 in the trailing window Nov 9..15: 100 a day.
      await batch(org, [
        ...times(5, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 }, occurredAt: '2026-11-02T08:00:00.000Z' }), // 5 x 60
        ...times(4, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 2.5 }, occurredAt: '2026-11-09T00:00:00.000Z' }), // 4 x 50
        ...times(5, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 }, occurredAt: '2026-11-12T18:00:00.000Z' }), // 5 x 60
        ...times(4, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 2.5 }, occurredAt: '2026-11-15T11:59:00.000Z' }), // 4 x 50
      ]);
    });

    it('projects from the trailing 7-day rate (hand-computed)', async () => {
      const res = await get(`/api/organizations/${org}/usage/forecast`).expect(200);
      // used 1000; rate 700 / 7 = 100 a day; 15.5 days left: 1000 + 1550 = 2550.
      // Can consume 1000 allowance + 500 top-up = 1500: 500 left at 100 a day is 5 days, Nov 20 12:00.
      expect(res.body).toEqual({
        organizationId: org,
        plan: 'starter',
        period: '2026-11',
        start: '2026-11-01T00:00:00.000Z',
        end: '2026-12-01T00:00:00.000Z',
        asOf: '2026-11-15T12:00:00.000Z',
        allowance: 1000,
        topUpsAvailable: 500,
        usedCredits: 1000,
        dailyRate: 100,
        projectedTotal: 2550,
        projectedExhaustionDate: '2026-11-20',
        daysRemaining: 15.5,
        exhaustion: 'projected',
        // Starter allows overage: nothing caps the projection.
        hardCapCredits: null,
        // First usage Nov 2, before the window: the window's 7 days divide.
        basis: { windowDays: 7, windowCredits: 700, rateDays: 7, from: '2026-11-09', to: '2026-11-15' },
        // Days of the window: 200, 0, 0, 300, 0, 0, 200. Sample variance 100,000 / 6; standard error
        // sqrt(16,666.67 / 7) = 48.795; the rate 100 ± 97.59 over 15.5 days.
        range: { rateLow: 2.41, rateHigh: 197.59, low: 1037.35, high: 4062.65, method: 'standard-error' },
        // First usage Nov 2; now Nov 15 12:00.
        daysOfData: 13.5,
        firstUsageDay: '2026-11-02',
      });
    });

    it('recommends from the forecast: 2,550 credits cost $50 on starter and $49 on professional', async () => {
      const res = await get(`/api/organizations/${org}/usage/recommendation`).expect(200);
      expect(res.body).toMatchObject({
        basis: 'forecast',
        currentPlan: 'starter',
        recommendedPlan: 'professional',
        projectedCredits: 2550,
        currentCost: 50,
        recommendedCost: 49,
        saving: 1,
        shouldChange: true,
        options: [
          { plan: 'free', cost: null },
          { plan: 'starter', cost: 50 },
          { plan: 'professional', cost: 49 },
          { plan: 'enterprise', cost: 99 },
        ],
      });
      expect(res.body.forecast.projectedTotal).toBe(2550);
      // 13.5 days of data, but at the range's low end (1,037 credits) starter ($19.75) is cheaper than
      // professional ($49), at the high end (4,063) professional saves $31.25: the $1 saving is well inside the forecast's uncertainty, so no recommendation.
      expect(res.body.evidence).toMatchObject({
        supported: false,
        daysOfData: 13.5,
        minDaysOfData: 7,
        projectedRange: { low: 1037.35, high: 4062.65 },
        savingRange: { low: -29.25, high: 31.25 },
        checks: { enoughData: true, cheaperAcrossRange: false },
      });
    });

    it.each([
      // [plan, billing cycle, projected credits, recommended, current cost, recommended cost, saving]
      ['starter', 'monthly', 3000, 'professional', 59, 49, 10], // 19 + 2000 * 0.02 vs 49
      ['starter', 'monthly', 1000, 'starter', 19, 19, 0],
      ['starter', 'monthly', 50, 'free', 19, 0, 19],
      ['starter', 'monthly', 20000, 'enterprise', 399, 139, 260], // 19 + 380 vs 99 + 5000 * 0.008
      ['free', 'monthly', 150, 'starter', null, 19, null], // hard cap: free cannot cover 150
      ['professional', 'monthly', 20000, 'enterprise', 199, 139, 60],
      ['starter', 'annual', 3000, 'professional', 55.83, 40.83, 15], // 190/12 + 40 vs 490/12
    ] as const)('%s (%s) projecting %d: %s', async (plan, billingCycle, projected, recommended, currentCost, recommendedCost, saving) => {
      const id = await createOrg(plan, { billingCycle });
      const res = await get(`/api/organizations/${id}/usage/recommendation?projectedCredits=${projected}`).expect(200);
      expect(res.body).toMatchObject({ basis: 'given', currentPlan: plan, billingCycle, recommendedPlan: recommended, projectedCredits: projected, currentCost, recommendedCost, saving });
      expect(res.body.reason).toEqual(expect.any(String));
    });

    it('previews the open period invoice', async () => {
      const res = await get(`/api/organizations/${org}/usage/invoice`).expect(200);
      expect(res.body).toEqual({
        organizationId: org,
        period: '2026-11',
        start: '2026-11-01T00:00:00.000Z',
        end: '2026-12-01T00:00:00.000Z',
        status: 'open',
        billingCycle: 'monthly',
        currency: 'USD',
        plan: 'starter',
        planPrice: 19,
        includedCredits: 1000,
        usedCredits: 1000,
        overageCredits: 0,
        overageRate: 0.02,
        overageCost: 0,
        topUpCredits: 500,
        total: 19,
        plans: [{ plan: 'starter', from: '2026-11-01T00:00:00.000Z' }],
        allowanceUsed: 1000,
        topUpsUsed: 0,
      });
    });
  });

  describe('hour by hour and the top-ups (the usage page)', () => {
    let org: string;
    beforeAll(async () => {
      org = await createOrg('starter');
      await batch(org, [
        { eventType: 'visuals_planning', occurredAt: '2026-11-15T00:00:00.000Z' }, // 8, hour 0
        { eventType: 'visuals_planning', occurredAt: '2026-11-15T00:59:59.999Z' }, // 8, hour 0
        { eventType: 'visuals_sketch', occurredAt: '2026-11-15T11:30:00.000Z' }, // 12, hour 11
        { eventType: 'visuals_sketch', occurredAt: '2026-11-14T23:59:59.999Z' }, // 12, yesterday
      ]);
    });

    it('gives today hour by hour: 24 hours in order, zeros included, later hours not yet elapsed', async () => {
      const res = await get(`/api/organizations/${org}/usage/hourly`).expect(200);
      expect(res.body).toMatchObject({ organizationId: org, day: '2026-11-15', asOf: '2026-11-15T12:00:00.000Z', totals: { events: 3, credits: 28 } });
      expect(res.body.items).toHaveLength(24);
      expect(res.body.items[0]).toEqual({ hour: '2026-11-15T00:00:00.000Z', events: 2, credits: 16, overageCredits: 0, elapsed: true });
      expect(res.body.items[11]).toEqual({ hour: '2026-11-15T11:00:00.000Z', events: 1, credits: 12, overageCredits: 0, elapsed: true });
      expect(res.body.items[12]).toMatchObject({ credits: 0, elapsed: true });
      expect(res.body.items[13]).toMatchObject({ credits: 0, elapsed: false });
      const yesterday = await get(`/api/organizations/${org}/usage/hourly?day=2026-11-14`).expect(200);
      expect(yesterday.body.totals).toEqual({ events: 1, credits: 12 });
      expect(yesterday.body.items[23]).toMatchObject({ credits: 12, elapsed: true });
    });

    it('refuses a bad day and another organization', async () => {
      const bad = await get(`/api/organizations/${org}/usage/hourly?day=2026-02-30`).expect(400);
      expect(bad.body.error).toBe('VALIDATION_FAILED');
      await get(`/api/organizations/${org}/usage/hourly?day=yesterday`).expect(400);
      const other = await issueKey(t, await createOrg('free'), ['read']);
      await t.http().get(`/api/organizations/${org}/usage/hourly`).set(other.headers).expect(404);
    });

    it('lists the top-ups with amount, used, remaining, expiry, and what expires within 7 days', async () => {
      const id = await createOrg('free');
      const grant = (amount: number, expiresAt?: string) => t.http().post(`/api/admin/organizations/${id}/credits`).set(ADMIN).send({ amount, ...(expiresAt ? { expiresAt } : {}) }).expect(201);
      await grant(50, '2026-11-20T00:00:00.000Z');
      await grant(30, '2026-12-31T00:00:00.000Z');
      // The free plan's 100 credits first (4 x 25), then the grant that expires first: 2 x 16 = 32 of its 50.
      await batch(id, times(4, { eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true } }));
      await batch(id, times(2, { eventType: 'visuals_planning', eventData: { complexity: 2 } }));
      const key = await issueKey(t, id, ['read']);
      const res = await t.http().get(`/api/organizations/${id}/credits`).set(key.headers).expect(200);
      expect(res.body).toMatchObject({ organizationId: id, asOf: '2026-11-15T12:00:00.000Z', expiringSoonDays: 7, remaining: 48, expiringSoon: { credits: 18, firstExpiry: '2026-11-20T00:00:00.000Z' } });
      expect(res.body.items.map((g: { amount: number; used: number; remaining: number; state: string }) => [g.amount, g.used, g.remaining, g.state]).sort()).toEqual([
        [30, 0, 30, 'active'],
        [50, 32, 18, 'expiring-soon'],
      ]);
      await t.http().get(`/api/organizations/${id}/credits`).expect(401);
      await t.http().get(`/api/organizations/nobody-here/credits`).set(ADMIN).expect(404);
    });
  });
});
