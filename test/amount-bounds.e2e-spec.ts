import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { MAX_EVENT_CREDITS, MAX_PERIOD_CREDITS, MAX_PERIOD_OVERAGE_COST_USD } from '../src/common/money/bounds';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startInstancePair, startTestApp, TestApp } from './utils/test-app';
import type { InstancePair } from './utils/test-app';
import { createOrg as newOrg } from './utils/factories';

/**
 * Amount bounds: every amount has a documented bound checked where it enters (a 4xx naming it, nothing
 * written), every column and type holds every value the bounds allow (charged here up to each bound exactly,
 * then read back through every analytics route and frozen by the period close), and the close is isolated
 * per organization. The seeded llm_completion: base 0.5, inputTokens 0.002, outputTokens 0.008.
 *
 * Failed before: 10^12-token events were accepted (10^10 credits each), a period's overage of 10^10 USD
 * overflowed invoices.overage_cost numeric(12,2) and failed the close of every organization, and a batch of
 * 1,000 such events answered 500 (numeric field overflow).
 */
describe('amount bounds', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  const suffix = Math.random().toString(36).slice(2, 7);
  /** Input tokens that price one llm_completion at exactly MAX_EVENT_CREDITS: 0.5 + q × 0.002 = 10^9. */
  const AT_EVENT_BOUND = (MAX_EVENT_CREDITS - 0.5) / 0.002;

  const track = (org: string, body: Record<string, unknown>) => t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send(body);
  const get = (path: string) => t.http().get(path).set(ADMIN);
  const runJob = (name: string) => t.http().post(`/api/admin/jobs/${name}/run`).set(ADMIN).send({});
  const llm = (inputTokens: number, outputTokens = 0, extra: Record<string, unknown> = {}) => ({ eventType: 'llm_completion', eventData: { units: { inputTokens, outputTokens } }, ...extra });

  const createOrg = (plan: string): Promise<string> => newOrg(t, plan, { prefix: `bounds-${suffix}` });

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses an event priced past MAX_EVENT_CREDITS with 422 naming the bound, singly and in batches, writing nothing', async () => {
    const org = await createOrg('starter');
    // The batch: 60 events of 10^12 input and output tokens (10^10 credits each), inside the quantity range.
    const sixty = await track(org, { events: Array.from({ length: 60 }, () => llm(1e12, 1e12)) }).expect(200);
    for (const r of sixty.body.results) {
      expect(r).toMatchObject({ status: 'rejected', error: { statusCode: 422, error: 'AMOUNT_OUT_OF_BOUNDS', details: { bound: 'eventCredits', max: MAX_EVENT_CREDITS, unit: 'credits' } } });
    }
    // 1,000 events at the largest quantities: per event 4xx, never a 500.
    const thousand = await track(org, { events: Array.from({ length: 1000 }, () => llm(1e12, 1e12)) }).expect(200);
    expect(new Set(thousand.body.results.map((r: { error?: { error: string } }) => r.error?.error))).toEqual(new Set(['AMOUNT_OUT_OF_BOUNDS']));
    // One past the bound by a hundredth of a credit (5 more input tokens = 0.01).
    const single = await track(org, llm(AT_EVENT_BOUND + 5, 0, { idempotencyKey: `past-${suffix}` })).expect(422);
    expect(single.body).toMatchObject({ error: 'AMOUNT_OUT_OF_BOUNDS', details: { bound: 'eventCredits', max: MAX_EVENT_CREDITS, price: '1000000000.01' } });
    // A replay answers the same, and the refusal did not burn the key.
    await track(org, llm(AT_EVENT_BOUND + 5, 0, { idempotencyKey: `past-${suffix}` })).expect(422);
    const quote = await t.http().post(`/api/organizations/${org}/usage/check`).set(ADMIN).send(llm(1e12, 1e12)).expect(422);
    expect(quote.body.details.bound).toBe('eventCredits');
    const hold = await t.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).send(llm(1e12, 1e12, { idempotencyKey: `hold-${suffix}` })).expect(422);
    expect(hold.body.details.bound).toBe('eventCredits');
    expect((await ledgerState(t.dataSource, org)).reserved.n).toBe(0);
    const state = await ledgerState(t.dataSource, org);
    expect(state.events.n).toBe(0);
    expect(state.keys).toBe(0);
    await track(org, llm(10, 0, { idempotencyKey: `past-${suffix}` })).expect(201);
    await expectLedgerConsistent(t.dataSource, org);
  });

  let atCreditBound: string;
  it('charges up to MAX_PERIOD_CREDITS exactly, then refuses the next hundredth with 422 (the ledger decides it under its lock)', async () => {
    const org = (atCreditBound = await createOrg('starter'));
    const n = MAX_PERIOD_CREDITS / MAX_EVENT_CREDITS;
    const batch = await track(org, { events: Array.from({ length: n }, () => llm(AT_EVENT_BOUND)) }).expect(200);
    expect(batch.body.results.map((r: { status: string }) => r.status)).toEqual(Array(n).fill('accepted'));
    expect(batch.body.results[0].result.creditsConsumed).toBe(MAX_EVENT_CREDITS);
    const over = await track(org, llm(0)).expect(422);
    expect(over.body).toMatchObject({ error: 'AMOUNT_OUT_OF_BOUNDS', details: { bound: 'periodCredits', max: MAX_PERIOD_CREDITS, used: MAX_PERIOD_CREDITS, required: 0.5 } });
    const [b] = await t.dataSource.query(`SELECT consumed::text, overage_used::text, overage_cost::text FROM period_balances WHERE organization_id = $1`, [org]);
    expect(Number(b.consumed)).toBe(MAX_PERIOD_CREDITS);
    await expectLedgerConsistent(t.dataSource, org);

    // Every route that reads the period answers 200 at the bound (each answered 500 at 10^14 before).
    const usage = (await get(`/api/organizations/${org}/usage`).expect(200)).body;
    expect(usage.used).toBe(MAX_PERIOD_CREDITS);
    const invoice = (await get(`/api/organizations/${org}/usage/invoice`).expect(200)).body;
    expect(invoice).toMatchObject({ usedCredits: MAX_PERIOD_CREDITS, overageCredits: MAX_PERIOD_CREDITS - 1000, overageCost: 199_999_980 });
    for (const route of ['forecast', 'breakdown', 'trends', 'api-keys', 'hourly', 'recommendation', 'events']) await get(`/api/organizations/${org}/usage/${route}`).expect(200);
  });

  let atCostBound: string;
  it('charges overage money up to MAX_PERIOD_OVERAGE_COST_USD exactly, then refuses with 422', async () => {
    const plan = `bounds_rate_${suffix}`;
    const { version: _v, createdAt: _c, updatedAt: _u, ...starter } = (await get('/api/admin/plans/starter').expect(200)).body;
    await t.http().post('/api/admin/plans').set(ADMIN).send({ ...starter, name: plan, displayName: 'Highest overage rate', monthlyCredits: 0, overageRate: 1000 }).expect(201);
    const org = (atCostBound = await createOrg(plan));
    await track(org, llm(AT_EVENT_BOUND)).expect(201); // 10^9 credits of overage at $1,000: $10^12
    const over = await track(org, llm(0)).expect(422);
    expect(over.body).toMatchObject({ error: 'AMOUNT_OUT_OF_BOUNDS', details: { bound: 'periodOverageCost', max: MAX_PERIOD_OVERAGE_COST_USD, unit: 'USD' } });
    const invoice = (await get(`/api/organizations/${org}/usage/invoice`).expect(200)).body;
    expect(invoice).toMatchObject({ overageCost: MAX_PERIOD_OVERAGE_COST_USD, total: MAX_PERIOD_OVERAGE_COST_USD + 19 });
    for (const route of ['usage', 'usage/forecast', 'usage/breakdown', 'usage/trends', 'usage/api-keys']) await get(`/api/organizations/${org}/${route}`).expect(200);
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('closes the period with the organizations at the bounds; one organization that fails is reported and every other one closes', async () => {
    const small = await createOrg('starter');
    await track(small, { eventType: 'push_sow_to_loe' }).expect(201); // 1 credit
    // A broken organization: its balance was written around the ledger, past what an invoice holds.
    const broken = await createOrg('starter');
    await track(broken, { eventType: 'push_sow_to_loe' }).expect(201);
    await t.dataSource.query(`UPDATE period_balances SET overage_cost = 1e15 WHERE organization_id = $1`, [broken]);

    clock.set('2026-12-01T02:00:00.000Z');
    const run = await runJob('period-close').expect(200);
    expect(run.body.details.failed['2026-11']).toEqual([{ organizationId: broken, error: expect.stringContaining('numeric field overflow') }]);
    expect(run.body.details.closed).toEqual([]);
    const invoices = await t.dataSource.query(`SELECT organization_id, overage_cost::text, total::text FROM invoices WHERE period_start = '2026-11-01' AND organization_id LIKE $1 ORDER BY 1`, [`bounds-${suffix}-%`]);
    const byOrg = Object.fromEntries(invoices.map((r: { organization_id: string; overage_cost: string; total: string }) => [r.organization_id, r]));
    expect(byOrg[broken]).toBeUndefined();
    expect(byOrg[small]).toMatchObject({ total: '19.00' });
    expect(byOrg[atCreditBound]).toMatchObject({ overage_cost: '199999980.00', total: '199999999.00' });
    expect(byOrg[atCostBound]).toMatchObject({ overage_cost: '1000000000000.00', total: '1000000000019.00' });
    const alerts = (await get('/api/admin/jobs/alerts').expect(200)).body.items as Array<{ organizationId: string; kind: string; status: string }>;
    expect(alerts.filter((a) => a.kind === 'period_close_failed')).toEqual([expect.objectContaining({ organizationId: broken, status: 'open' })]);
    // The reconciliation does not resolve it while the organization has no invoice.
    await runJob('ledger-reconciliation').expect(200);
    expect(((await get('/api/admin/jobs/alerts').expect(200)).body.items as Array<{ kind: string }>).filter((a) => a.kind === 'period_close_failed')).toHaveLength(1);

    // Repaired, the next run closes it and the period, and resolves the alert; the others are not frozen twice.
    await t.dataSource.query(`UPDATE period_balances SET overage_cost = 0 WHERE organization_id = $1`, [broken]);
    const rerun = await runJob('period-close').expect(200);
    expect(rerun.body.details).toMatchObject({ closed: ['2026-11'], failed: {} });
    expect(rerun.body.rows).toBeGreaterThanOrEqual(2);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM invoices WHERE period_start = '2026-11-01' AND organization_id = $1`, [broken]);
    expect(n).toBe(1);
    const open = (await get('/api/admin/jobs/alerts').expect(200)).body.items as Array<{ kind: string }>;
    expect(open.filter((a) => a.kind === 'period_close_failed')).toEqual([]);
    for (const org of [small, broken, atCreditBound, atCostBound]) await expectLedgerConsistent(t.dataSource, org);
    // The frozen invoice of the organization at the bound reads back exactly.
    const frozen = (await get(`/api/organizations/${atCostBound}/usage/invoice?period=2026-11`).expect(200)).body;
    expect(frozen).toMatchObject({ overageCost: MAX_PERIOD_OVERAGE_COST_USD, total: MAX_PERIOD_OVERAGE_COST_USD + 19 });
  });
});

/**
 * The period bound is decided under the balance row lock: requests racing for the last room, on two app
 * instances of one PostgreSQL (one instance on PGlite), never take a period past it together.
 */
describe('amount bounds: the race for the last room under the period bound', () => {
  let a: TestApp;
  let b: TestApp;
  let pair: InstancePair | undefined;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  const suffix = Math.random().toString(36).slice(2, 7);
  const AT_EVENT_BOUND = (MAX_EVENT_CREDITS - 0.5) / 0.002;
  const llm = { eventType: 'llm_completion', eventData: { units: { inputTokens: AT_EVENT_BOUND } } };

  beforeAll(async () => {
    pair = await startInstancePair({ clock });
    ({ a, b } = pair);
  });
  afterAll(async () => {
    await pair?.close();
  });

  it('of six requests for the last 10^9 credits, exactly one is accepted, round after round', async () => {
    for (let round = 0; round < 5; round++) {
      const org = `race-${suffix}-${round}`;
      await a.http().post('/api/admin/organizations').set(ADMIN).send({ id: org, name: org, plan: 'starter' }).expect(201);
      const n = MAX_PERIOD_CREDITS / MAX_EVENT_CREDITS - 1;
      await a.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ events: Array.from({ length: n }, () => llm) }).expect(200);
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ ...llm, idempotencyKey: `race-${round}-${i}` })),
      );
      expect(answers.map((r) => r.status).sort()).toEqual([201, 422, 422, 422, 422, 422]);
      for (const r of answers.filter((x) => x.status === 422)) expect(r.body.details).toMatchObject({ bound: 'periodCredits', max: MAX_PERIOD_CREDITS });
      const [bal] = await a.dataSource.query(`SELECT consumed::numeric::text AS consumed FROM period_balances WHERE organization_id = $1`, [org]);
      expect(Number(bal.consumed)).toBe(MAX_PERIOD_CREDITS);
      await expectLedgerConsistent(a.dataSource, org);
      // The refused requests did not burn their keys: a replay is decided again (and refused again, at the bound).
      const refusedKey = answers.findIndex((r) => r.status === 422);
      await b.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ ...llm, idempotencyKey: `race-${round}-${refusedKey}` }).expect(422);
    }
  });
});
