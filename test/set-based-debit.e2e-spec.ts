import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FakeClock } from '../src/common/clock/clock';
import { ADMIN, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';

/**
 * The set-based pass (consume_credits_many decides a whole batch in memory under one lock per balance row)
 * must decide exactly what the same events decide one at a time, each re-reading the rows the previous one
 * wrote. Property: for random plans, caps, top-ups, prior use, periods and events, a batch and the same
 * events one by one give the same results, the same balances and the same top-ups left.
 */
describe('set-based debit = the same debits one by one', () => {
  const clock = new FakeClock('2026-11-01T00:20:00.000Z'); // inside October's grace window: two periods take events
  let t: TestApp;
  let seq = 0;
  const plan = `prop_plan_${Math.random().toString(36).slice(2, 7)}`;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    const { version: _v, createdAt: _c, updatedAt: _u, ...starter } = (await t.http().get('/api/admin/plans/starter').set(ADMIN).expect(200)).body;
    await t.http().post('/api/admin/plans').set(ADMIN).send({ ...starter, name: plan, displayName: 'Property test', monthlyCredits: 40, overageRate: 0.05, limits: { ...starter.limits, aiCallsPerMonth: 4, pdfExportsPerMonth: 2, reportsPerMonth: 3 } }).expect(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  const item = fc.record({
    amount: fc.integer({ min: 1, max: 2500 }).map((h) => (h / 100).toFixed(2)),
    // An operator-added limit, and events counting toward two limits (the debit's comma-joined names).
    limitKey: fc.constantFrom(null, null, 'aiCallsPerMonth', 'pdfExportsPerMonth', 'reportsPerMonth', 'aiCallsPerMonth,reportsPerMonth'),
    period: fc.constantFrom('2026-11-01', '2026-11-01', '2026-10-01'),
  });
  const orgScenario = {
    planName: fc.constantFrom(plan, plan, 'free'),
    spendCap: fc.constantFrom(null, 0.3, 1),
    grants: fc.array(fc.record({ amount: fc.integer({ min: 1, max: 3000 }), expiresInDays: fc.constantFrom(null, 3, 40) }), { maxLength: 3 }),
  };
  const scenario = fc.record({ ...orgScenario, items: fc.array(item, { minLength: 1, maxLength: 25 }) });

  type Scenario = { planName: string; spendCap: number | null; grants: Array<{ amount: number; expiresInDays: number | null }> };

  async function setUp(s: Scenario): Promise<{ org: string; grants: string[] }> {
    const org = `prop-${++seq}-${Math.random().toString(36).slice(2, 7)}`;
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: org, name: org, plan: s.planName, ...(s.spendCap === null ? {} : { spendCap: s.spendCap }) }).expect(201);
    const grants: string[] = [];
    for (const [n, g] of s.grants.entries()) {
      // A distinct creation instant per grant: the take order (expiry, then creation) is the same in both organizations.
      clock.set(new Date(Date.parse('2026-11-01T00:10:00.000Z') + n * 1000));
      const expiresAt = g.expiresInDays === null ? undefined : new Date(clock.now().getTime() + g.expiresInDays * 86_400_000).toISOString();
      const res = await t.http().post(`/api/admin/organizations/${org}/credits`).set(ADMIN).send({ amount: g.amount / 100, ...(expiresAt ? { expiresAt } : {}) }).expect(201);
      grants.push(res.body.id);
    }
    clock.set('2026-11-01T00:20:00.000Z');
    return { org, grants };
  }

  // Numeric values compared as numbers ("0" and "0.00" are the same credits); grants by creation order.
  const NUMERIC = ['from_allowance', 'from_grants', 'overage', 'overage_cost', 'remaining', 'consumed_before', 'consumed_after', 'allowance'];
  const normalize = (rows: Array<Record<string, unknown>>, grants: string[]) =>
    rows.map(({ i: _i, ...r }) => ({
      ...r,
      ...Object.fromEntries(NUMERIC.map((k) => [k, Number(r[k])])),
      grant_takes: (r.grant_takes as Array<{ grantId: string; credits: number }>).map((g) => ({ grant: grants.indexOf(g.grantId), credits: Number(g.credits) })),
    }));
  const state = async (org: string, grants: string[]) => ({
    balances: await t.dataSource.query(
      `SELECT period_start::text AS p, plan_name, allowance_used::text, grants_used::text, overage_used::text, overage_cost::numeric::text AS oc, consumed::text, events::int,
              coalesce((SELECT c.used FROM period_limit_counts c WHERE c.organization_id = b.organization_id AND c.period_start = b.period_start AND c.limit_name = 'aiCallsPerMonth'), 0)::int AS ai_calls,
              coalesce((SELECT c.used FROM period_limit_counts c WHERE c.organization_id = b.organization_id AND c.period_start = b.period_start AND c.limit_name = 'pdfExportsPerMonth'), 0)::int AS pdf_exports,
              coalesce((SELECT c.used FROM period_limit_counts c WHERE c.organization_id = b.organization_id AND c.period_start = b.period_start AND c.limit_name = 'reportsPerMonth'), 0)::int AS reports
         FROM period_balances b WHERE organization_id = $1 ORDER BY 1`,
      [org],
    ),
    grants: (await t.dataSource.query(`SELECT id, remaining::text FROM credit_grants WHERE organization_id = $1`, [org])).map((g: { id: string; remaining: string }) => ({ grant: grants.indexOf(g.id), remaining: g.remaining })).sort((x: { grant: number }, y: { grant: number }) => x.grant - y.grant),
  });

  it('decides every event as the one-by-one debits would', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const batch = await setUp(s);
        const single = await setUp(s);
        const items = s.items.map((x, i) => ({ i, period: x.period, amount: x.amount, limit_key: x.limitKey }));
        const now = clock.now();
        const together = await t.dataSource.query(`SELECT * FROM consume_credits_many($1, $2, 60, $3::jsonb) ORDER BY i`, [batch.org, now, JSON.stringify(items)]);
        const oneByOne: Array<Record<string, unknown>> = [];
        for (const x of items) {
          const [r] = await t.dataSource.query(`SELECT * FROM consume_credits($1, $2::date, $3::numeric, $4, $5, 60)`, [single.org, x.period, x.amount, x.limit_key, now]);
          oneByOne.push(r);
        }
        expect(normalize(together, batch.grants)).toEqual(normalize(oneByOne, single.grants));
        expect(await state(batch.org, batch.grants)).toEqual(await state(single.org, single.grants));
        // And the rules themselves hold on the result: nothing past the allowance but overage the plan allows.
        for (const b of (await state(batch.org, batch.grants)).balances) {
          if (s.planName === 'free') expect(Number(b.overage_used)).toBe(0);
          if (s.spendCap !== null) expect(Number(b.oc)).toBeLessThanOrEqual(s.spendCap);
          expect(b.ai_calls).toBeLessThanOrEqual(s.planName === 'free' ? 50 : 4);
          if (s.planName !== 'free') expect(b.reports).toBeLessThanOrEqual(3);
        }
      }),
      { numRuns: 30, seed: 20261202 },
    );
  });

  // A group commit across organizations is ONE call: every organization's balance rows locked in one
  // statement, their events decided in one pass. Each organization's events must still be decided as its own
  // events one at a time would be, whatever the other organizations' events around them.
  it('many organizations in one call: each decides as its events one by one would', async () => {
    const group = fc.record({
      orgs: fc.array(fc.record(orgScenario), { minLength: 2, maxLength: 4 }),
      items: fc.array(fc.record({ org: fc.nat({ max: 3 }), x: item }), { minLength: 2, maxLength: 30 }),
    });
    await fc.assert(
      fc.asyncProperty(group, async (g) => {
        const batch: Array<{ org: string; grants: string[] }> = [];
        const single: Array<{ org: string; grants: string[] }> = [];
        for (const o of g.orgs) {
          batch.push(await setUp(o));
          single.push(await setUp(o));
        }
        const items = g.items.map(({ org, x }, i) => ({ i, o: org % g.orgs.length, period: x.period, amount: x.amount, limit_key: x.limitKey }));
        const now = clock.now();
        const together = (await t.dataSource.query(`SELECT * FROM consume_credits_orgs($1, 60, $2::jsonb) ORDER BY i`, [
          now,
          JSON.stringify(items.map(({ o, ...x }) => ({ ...x, org: batch[o].org }))),
        ])) as Array<Record<string, unknown>>;
        expect(together.map((r) => r.i)).toEqual(items.map((x) => x.i));
        for (const [o] of g.orgs.entries()) {
          const mine = items.filter((x) => x.o === o);
          const oneByOne: Array<Record<string, unknown>> = [];
          for (const x of mine) {
            const [r] = await t.dataSource.query(`SELECT * FROM consume_credits($1, $2::date, $3::numeric, $4, $5, 60)`, [single[o].org, x.period, x.amount, x.limit_key, now]);
            oneByOne.push(r);
          }
          const rows = together.filter((r) => mine.some((x) => x.i === r.i));
          expect(normalize(rows, batch[o].grants)).toEqual(normalize(oneByOne, single[o].grants));
          expect(await state(batch[o].org, batch[o].grants)).toEqual(await state(single[o].org, single[o].grants));
        }
      }),
      { numRuns: 15, seed: 20261207 },
    );
  });

  it('a group of many organizations is one debit call, not one per organization', async () => {
    const orgs: string[] = [];
    for (let n = 0; n < 5; n++) orgs.push((await setUp({ planName: plan, spendCap: null, grants: [{ amount: 2000, expiresInDays: null }] })).org);
    const items = orgs.flatMap((org, n) => [
      { i: 2 * n, org, period: '2026-11-01', amount: '30.00', limit_key: null },
      { i: 2 * n + 1, org, period: '2026-11-01', amount: '30.00', limit_key: null },
    ]);
    const calls = await t.dataSource.transaction(async (m) => {
      // Function statistics of this transaction only (no wait for the collector); superuser on both databases.
      await m.query(`SET LOCAL track_functions = 'all'`);
      const rows = (await m.query(`SELECT i, status, from_grants FROM consume_credits_orgs($1, 60, $2::jsonb) ORDER BY i`, [clock.now(), JSON.stringify(items)])) as Array<{ status: string; from_grants: string }>;
      expect(rows.map((r) => r.status)).toEqual(items.map(() => 'OK'));
      // 40 from the allowance, then 20 of the second event from the top-up, in every organization.
      expect(rows.map((r) => Number(r.from_grants))).toEqual(items.map((x) => (x.i % 2 === 1 ? 20 : 0)));
      return (await m.query(`SELECT funcname, calls::int FROM pg_stat_xact_user_functions WHERE funcname IN ('consume_credits_many', 'ensure_period_balance') ORDER BY 1`)) as Array<{ funcname: string; calls: number }>;
    });
    expect(calls.find((c) => c.funcname === 'consume_credits_many')?.calls).toBe(1);
  });

  it('in one call, an organization\'s budgets and runs are its own: another organization\'s items neither use nor find them', async () => {
    const a = (await setUp({ planName: plan, spendCap: null, grants: [] })).org;
    const b = (await setUp({ planName: plan, spendCap: null, grants: [] })).org;
    const budget = (await t.http().post(`/api/admin/organizations/${a}/budgets`).set(ADMIN).send({ scope: 'user', subject: 'u1', credits: 1, period: 'month' }).expect(201)).body;
    const run = (await t.http().post(`/api/organizations/${a}/runs`).set(ADMIN).send({ budgetCredits: '2' }).expect(201)).body;
    const item = (i: number, org: string, amount: string, extra: Record<string, unknown> = {}) => ({ i, org, period: '2026-11-01', amount, limit_key: null, ...extra });
    const items = [
      item(0, a, '0.60', { user_id: 'u1' }),
      item(1, b, '5.00', { user_id: 'u1' }),
      item(2, a, '0.60', { user_id: 'u1' }),
      item(3, b, '1.00', { run_id: run.id }),
      item(4, a, '1.50', { run_id: run.id }),
      item(5, a, '1.00', { run_id: run.id }),
    ];
    const rows = await t.dataSource.query(`SELECT i, status FROM consume_credits_orgs($1, 60, $2::jsonb) ORDER BY i`, [clock.now(), JSON.stringify(items)]);
    expect(rows.map((r: { status: string }) => r.status)).toEqual(['OK', 'OK', 'BUDGET_EXCEEDED', 'RUN_NOT_FOUND', 'OK', 'RUN_BUDGET_EXCEEDED']);
    expect(await t.dataSource.query(`SELECT organization_id, used::numeric::text AS used FROM budget_usage WHERE budget_id = $1`, [budget.id])).toEqual([{ organization_id: a, used: '0.600000' }]);
    expect(Number((await t.dataSource.query(`SELECT used FROM runs WHERE organization_id = $1 AND id = $2`, [a, run.id]))[0].used)).toBe(1.5);
    const consumed = async (org: string) => Number((await t.dataSource.query(`SELECT consumed FROM period_balances WHERE organization_id = $1`, [org]))[0].consumed);
    expect([await consumed(a), await consumed(b)]).toEqual([2.1, 5]);
  });

  it('a closed or out-of-grace period in a batch refuses only its own events', async () => {
    const { org } = await setUp({ planName: plan, spendCap: null, grants: [] });
    const items = [
      { i: 0, period: '2026-09-01', amount: '1.00', limit_key: null },
      { i: 1, period: '2026-11-01', amount: '1.00', limit_key: null },
      { i: 2, period: '2026-10-01', amount: '1.00', limit_key: null },
    ];
    const rows = await t.dataSource.query(`SELECT i, status FROM consume_credits_many($1, $2, 60, $3::jsonb) ORDER BY i`, [org, clock.now(), JSON.stringify(items)]);
    expect(rows).toEqual([
      { i: 0, status: 'PERIOD_CLOSED' },
      { i: 1, status: 'OK' },
      { i: 2, status: 'OK' },
    ]);
    expect(await t.dataSource.query(`SELECT period_start::text AS p FROM period_balances WHERE organization_id = $1 ORDER BY 1`, [org])).toEqual([{ p: '2026-10-01' }, { p: '2026-11-01' }]);
  });
});
