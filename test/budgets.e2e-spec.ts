import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { AsyncUsageBuffer } from '../src/modules/tracking/async-usage-buffer.service';
import { ReservationsService } from '../src/modules/usage/reservations.service';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startInstancePair } from './utils/test-app';
import type { InstancePair, TestApp } from './utils/test-app';
import { ON_POSTGRES } from './utils/test-database';
import { createOrg as newOrg, issueKey } from './utils/factories';
import type { IssuedKey } from './utils/factories';
import type { ApiKeyScope } from '../src/common/auth/auth.decorators';

/**
 * Budgets per API key and per member: CRUD on both surfaces, enforcement in the debit on every
 * path, thresholds, and the race: on PostgreSQL two app instances on one database, many rounds, and a
 * budget is never exceeded.
 */
describe('budgets', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let a: TestApp;
  let b: TestApp;
  let pair: InstancePair | undefined;

  beforeAll(async () => {
    pair = await startInstancePair({ clock });
    ({ a, b } = pair);
  });
  afterAll(async () => {
    await pair?.close();
  });

  const createOrg = (plan = 'professional'): Promise<string> => newOrg(a, plan, { prefix: 'budgets' });
  const createKey = (org: string, scopes: ApiKeyScope[] = ['track', 'read', 'manage'], userId?: string): Promise<IssuedKey> => issueKey(a, org, scopes, { userId, name: `key-${scopes.join('+')}` });
  const adminBudgets = (org: string) => `/api/admin/organizations/${org}/budgets`;
  const budget = async (org: string, body: Record<string, unknown>) => (await a.http().post(adminBudgets(org)).set(ADMIN).send(body).expect(201)).body;
  const track = (t: TestApp, org: string, auth: Record<string, string>, body: Record<string, unknown>) => t.http().post(`/api/organizations/${org}/usage/events`).set(auth).send(body);
  const usedOf = async (org: string, id: string) => (await a.http().get(`${adminBudgets(org)}/${id}`).set(ADMIN).expect(200)).body.used as number;

  describe('CRUD', () => {
    it('admin: create, list with used and remaining, change the limit, delete', async () => {
      const org = await createOrg();
      const key = await createKey(org);
      const created = await a.http().post(adminBudgets(org)).set(ADMIN).send({ scope: 'apiKey', subject: key.id, credits: 100, period: 'month' }).expect(201);
      expect(created.body).toEqual({
        id: expect.any(String),
        organizationId: org,
        scope: 'apiKey',
        subject: key.id,
        subjectName: expect.stringMatching(/^key-/),
        period: 'month',
        credits: 100,
        used: 0,
        remaining: 100,
        window: { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' },
        createdAt: '2026-11-15T12:00:00.000Z',
        updatedAt: '2026-11-15T12:00:00.000Z',
      });
      const daily = await budget(org, { scope: 'user', subject: 'alice', credits: 40.5, period: 'day' });
      expect(daily.window).toEqual({ start: '2026-11-15T00:00:00.000Z', end: '2026-11-16T00:00:00.000Z' });
      await track(a, org, key.headers, { eventType: 'structuring_diagnose', eventData: { complexity: 2 }, userId: 'alice' }).expect(201); // 20
      await track(a, org, key.headers, { eventType: 'structuring_diagnose', eventData: { complexity: 1 }, userId: 'alice' }).expect(201); // 10
      const list = await a.http().get(adminBudgets(org)).set(ADMIN).expect(200);
      expect(list.body.count).toBe(2);
      expect(list.body.items.map((x: { subject: string; used: number; remaining: number }) => [x.subject, x.used, x.remaining])).toEqual([
        [key.id, 30, 70],
        ['alice', 30, 10.5],
      ]);
      const patched = await a.http().patch(`${adminBudgets(org)}/${created.body.id}`).set(ADMIN).send({ credits: 5 }).expect(200);
      expect(patched.body).toMatchObject({ credits: 5, used: 30, remaining: 0 });
      const deleted = await a.http().delete(`${adminBudgets(org)}/${created.body.id}`).set(ADMIN).expect(200);
      expect(deleted.body.id).toBe(created.body.id);
      await a.http().get(`${adminBudgets(org)}/${created.body.id}`).set(ADMIN).expect(404);
      expect((await a.http().get(adminBudgets(org)).set(ADMIN).expect(200)).body.count).toBe(1);
    });

    it.each<[string, Record<string, unknown>]>([
      ['an unknown scope', { scope: 'team', subject: 'x', credits: 1, period: 'month' }],
      ['an unknown period', { scope: 'user', subject: 'x', credits: 1, period: 'week' }],
      ['negative credits', { scope: 'user', subject: 'x', credits: -1, period: 'month' }],
      ['credits with 3 decimals', { scope: 'user', subject: 'x', credits: 1.005, period: 'month' }],
      ['an empty subject', { scope: 'user', subject: '', credits: 1, period: 'month' }],
      ['a missing field', { scope: 'user', subject: 'x', period: 'month' }],
      ['an unknown field', { scope: 'user', subject: 'x', credits: 1, period: 'month', extra: true }],
    ])('refuses %s with 400 and stores nothing', async (_name, body) => {
      const org = await createOrg();
      const res = await a.http().post(adminBudgets(org)).set(ADMIN).send(body).expect(400);
      expect(res.body.error).toBe('VALIDATION_FAILED');
      expect((await a.http().get(adminBudgets(org)).set(ADMIN).expect(200)).body.count).toBe(0);
    });

    it('404 for an unknown organization, key or budget; 409 for a second budget of the same scope, subject and period', async () => {
      const org = await createOrg();
      await a.http().post(adminBudgets('no-such-org')).set(ADMIN).send({ scope: 'user', subject: 'x', credits: 1, period: 'month' }).expect(404);
      const noKey = await a.http().post(adminBudgets(org)).set(ADMIN).send({ scope: 'apiKey', subject: '00000000-0000-4000-8000-000000000000', credits: 1, period: 'month' }).expect(404);
      expect(noKey.body.error).toBe('API_KEY_NOT_FOUND');
      await budget(org, { scope: 'user', subject: 'x', credits: 1, period: 'month' });
      const dup = await a.http().post(adminBudgets(org)).set(ADMIN).send({ scope: 'user', subject: 'x', credits: 2, period: 'month' }).expect(409);
      expect(dup.body.error).toBe('ALREADY_EXISTS');
      await budget(org, { scope: 'user', subject: 'x', credits: 1, period: 'day' });
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
        expect((await a.http().patch(`${adminBudgets(org)}/${id}`).set(ADMIN).send({ credits: 1 }).expect(404)).body.error).toBe('BUDGET_NOT_FOUND');
        await a.http().delete(`${adminBudgets(org)}/${id}`).set(ADMIN).expect(404);
      }
    });

    it("an organization key with manage does the same for its own organization only; without manage it is 403", async () => {
      const org = await createOrg();
      const other = await createOrg();
      const key = await createKey(org);
      // Another key's budget: its own is not the key's to change (budgets-given-away.e2e-spec.ts).
      const limited = await createKey(org, ['track']);
      const path = `/api/organizations/${org}/budgets`;
      const created = await a.http().post(path).set(key.headers).send({ scope: 'apiKey', subject: limited.id, credits: 40, period: 'day' }).expect(201);
      expect((await a.http().get(path).set(key.headers).expect(200)).body.items).toHaveLength(1);
      await a.http().patch(`${path}/${created.body.id}`).set(key.headers).send({ credits: 50 }).expect(200);
      await a.http().get(`/api/organizations/${other}/budgets`).set(key.headers).expect(404);
      await a.http().get(adminBudgets(org)).set(key.headers).expect(401);
      const trackOnly = await createKey(org, ['track', 'read']);
      expect((await a.http().get(path).set(trackOnly.headers).expect(403)).body.error).toBe('FORBIDDEN');
      // Reading them is part of the usage (read scope), with the key's name.
      const read = await a.http().get(`/api/organizations/${org}/usage/budgets`).set(trackOnly.headers).expect(200);
      expect(read.body.items).toEqual([expect.objectContaining({ id: created.body.id, scope: 'apiKey', subject: limited.id, subjectName: expect.stringMatching(/^key-/), credits: 50 })]);
      const noRead = await createKey(org, ['track']);
      await a.http().get(`/api/organizations/${org}/usage/budgets`).set(noRead.headers).expect(403);
      await a.http().get(`/api/organizations/${other}/usage/budgets`).set(trackOnly.headers).expect(404);
      await a.http().delete(`${path}/${created.body.id}`).set(key.headers).expect(200);
    });
  });

  describe('enforcement in the debit, on every path', () => {
    it('single events: 402 BUDGET_EXCEEDED with {budgetId, scope, subject, credits, used}, nothing charged; other keys and the admin key are not limited by it', async () => {
      const org = await createOrg();
      const key = await createKey(org);
      const other = await createKey(org);
      const b1 = await budget(org, { scope: 'apiKey', subject: key.id, credits: 25, period: 'month' });
      await track(a, org, key.headers, { eventType: 'structuring_diagnose', eventData: { complexity: 1 } }).expect(201); // 10
      await track(b, org, key.headers, { eventType: 'structuring_diagnose', eventData: { complexity: 1 } }).expect(201); // 20
      const refused = await track(a, org, key.headers, { eventType: 'structuring_diagnose', eventData: { complexity: 1 }, idempotencyKey: 'over' }).expect(402);
      expect(refused.body).toEqual({
        statusCode: 402,
        error: 'BUDGET_EXCEEDED',
        message: expect.any(String),
        details: { budgetId: b1.id, scope: 'apiKey', subject: key.id, credits: 25, used: 20 },
      });
      const state = await ledgerState(a.dataSource, org);
      expect(state.events.n).toBe(2);
      expect(state.keys).toBe(0); // the refused attempt did not burn its key
      // 5 credits fit exactly.
      await track(a, org, key.headers, { eventType: 'solutioning_formatting', eventData: { complexity: 1.5 } }).expect(201); // 4.5
      await track(a, org, key.headers, { eventType: 'push_sow_to_loe' }).expect(402);
      await track(a, org, other.headers, { eventType: 'structuring_diagnose', eventData: { complexity: 1 } }).expect(201);
      await track(a, org, ADMIN, { eventType: 'structuring_diagnose', eventData: { complexity: 1 } }).expect(201);
      expect(await usedOf(org, b1.id)).toBe(24.5);
      // The quote runs the very same debit.
      const check = await a.http().post(`/api/organizations/${org}/usage/check`).set(key.headers).send({ eventType: 'push_sow_to_loe' }).expect(200);
      expect(check.body).toMatchObject({ fits: false, reason: 'BUDGET_EXCEEDED' });
      await expectLedgerConsistent(a.dataSource, org);
    });

    it("a member's budget applies whatever the key (userId or X-User-Id), per day of the charge: the next day opens a new window", async () => {
      clock.set('2026-11-20T23:00:00.000Z');
      const org = await createOrg();
      const mb = await budget(org, { scope: 'user', subject: 'bob', credits: 2, period: 'day' });
      await track(a, org, ADMIN, { eventType: 'push_sow_to_loe', userId: 'bob' }).expect(201);
      await a.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).set('X-User-Id', 'bob').send({ eventType: 'push_sow_to_loe' }).expect(201);
      const refused = await track(b, org, ADMIN, { eventType: 'push_sow_to_loe', userId: 'bob' }).expect(402);
      expect(refused.body.details).toEqual({ budgetId: mb.id, scope: 'user', subject: 'bob', credits: 2, used: 2 });
      await track(a, org, ADMIN, { eventType: 'push_sow_to_loe', userId: 'carol' }).expect(201);
      // The window is the day the charge is made: an event dated yesterday, charged today, counts toward today's.
      clock.set('2026-11-21T00:30:00.000Z');
      await track(a, org, ADMIN, { eventType: 'push_sow_to_loe', userId: 'bob', occurredAt: '2026-11-20T23:30:00.000Z' }).expect(201);
      await track(a, org, ADMIN, { eventType: 'push_sow_to_loe', userId: 'bob' }).expect(201);
      await track(b, org, ADMIN, { eventType: 'push_sow_to_loe', userId: 'bob', occurredAt: '2026-11-20T10:00:00.000Z' }).expect(402);
      expect(await usedOf(org, mb.id)).toBe(2);
      clock.set('2026-11-15T12:00:00.000Z');
    });

    it('batches: each item in order, an item past the budget is rejected in its place', async () => {
      const org = await createOrg();
      const key = await createKey(org);
      await budget(org, { scope: 'apiKey', subject: key.id, credits: 3, period: 'month' });
      const res = await track(a, org, key.headers, {
        events: [{ eventType: 'push_sow_to_loe' }, { eventType: 'export_pdf' }, { eventType: 'push_sow_to_loe' }, { eventType: 'push_sow_to_loe' }],
      }).expect(200);
      expect(res.body.results.map((r: { status: string; error?: { error: string } }) => r.error?.error ?? r.status)).toEqual(['accepted', 'accepted', 'BUDGET_EXCEEDED', 'BUDGET_EXCEEDED']);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('reservations: a hold counts at once, a release or an expiry gives it back, a re-priced commit must fit the budget', async () => {
      const org = await createOrg();
      const key = await createKey(org);
      const kb = await budget(org, { scope: 'apiKey', subject: key.id, credits: 30, period: 'month' });
      const reserve = (body: Record<string, unknown>) => a.http().post(`/api/organizations/${org}/usage/reservations`).set(key.headers).send(body);
      const r1 = await reserve({ eventType: 'structuring_diagnose', eventData: { complexity: 2 } }).expect(201); // 20
      expect(await usedOf(org, kb.id)).toBe(20);
      expect((await reserve({ eventType: 'structuring_diagnose', eventData: { complexity: 1.5 } }).expect(402)).body.error).toBe('BUDGET_EXCEEDED'); // 15 > 10 left
      await a.http().post(`/api/organizations/${org}/usage/reservations/${r1.body.reservationId}/release`).set(key.headers).send({}).expect(200);
      expect(await usedOf(org, kb.id)).toBe(0);
      const r2 = await reserve({ eventType: 'structuring_diagnose', eventData: { complexity: 1 } }).expect(201); // 10
      const over = await a.http().post(`/api/organizations/${org}/usage/reservations/${r2.body.reservationId}/commit`).set(key.headers).send({ eventData: { complexity: 2.5, echo: true, traceback: true } }).expect(402); // 33 > 30
      expect(over.body.error).toBe('BUDGET_EXCEEDED');
      expect(await usedOf(org, kb.id)).toBe(10); // still held
      await a.http().post(`/api/organizations/${org}/usage/reservations/${r2.body.reservationId}/commit`).set(key.headers).send({ eventData: { complexity: 2.5, echo: true } }).expect(200); // 30 fits exactly
      expect(await usedOf(org, kb.id)).toBe(30);
      // An expired hold gives its budget back.
      await a.http().patch(`${adminBudgets(org)}/${kb.id}`).set(ADMIN).send({ credits: 40 }).expect(200);
      await reserve({ eventType: 'structuring_diagnose', eventData: { complexity: 1 }, ttlSeconds: 60 }).expect(201);
      expect(await usedOf(org, kb.id)).toBe(40);
      clock.advance(61_000);
      await a.app.get(ReservationsService).expireDue();
      expect(await usedOf(org, kb.id)).toBe(30);
      clock.set('2026-11-15T12:00:00.000Z');
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('@TrackUsage: 402 BUDGET_EXCEEDED before the handler runs; asynchronous events past the budget are kept as refused, never charged', async () => {
      const org = await createOrg();
      const key = await createKey(org);
      await budget(org, { scope: 'apiKey', subject: key.id, credits: 12, period: 'month' });
      await a.http().post('/api/visuals/planning').set(key.headers).send({ complexity: 1 }).expect(200); // 8
      const refused = await a.http().post('/api/visuals/planning').set(key.headers).send({ complexity: 1 }).expect(402);
      expect(refused.body.error).toBe('BUDGET_EXCEEDED');
      const responses = await Promise.all(Array.from({ length: 6 }, () => a.http().post('/api/push/sow-to-loe').set(key.headers).send({ payload: 'x' })));
      expect(responses.every((r) => r.status === 200)).toBe(true);
      await a.app.get(AsyncUsageBuffer).flush();
      const state = await ledgerState(a.dataSource, org);
      expect(Number(state.events.credits)).toBe(12);
      const kept = await a.dataSource.query(`SELECT error, source FROM refused_events WHERE organization_id = $1`, [org]);
      expect(kept).toHaveLength(2);
      expect(kept.every((r: { error: string }) => r.error === 'BUDGET_EXCEEDED')).toBe(true);
      await expectLedgerConsistent(a.dataSource, org);
    });
  });

  it('thresholds: 80/90/100 % of a budget are warnings, notifications and webhooks, once per budget window', async () => {
    const org = await createOrg();
    await a.http().patch(`/api/admin/organizations/${org}`).set(ADMIN).send({ webhookUrl: 'https://hooks.example.com/metering' }).expect(200);
    const key = await createKey(org);
    const kb = await budget(org, { scope: 'apiKey', subject: key.id, credits: 10, period: 'day' });
    await budget(org, { scope: 'user', subject: 'dana', credits: 10, period: 'day' });
    const first = await track(a, org, key.headers, { eventType: 'solutioning_node_stack', eventData: { complexity: 1.4 }, userId: 'dana' }).expect(201); // 8.4
    expect(first.body.warnings.filter((w: { type: string }) => w.type === 'budget_threshold')).toHaveLength(2);
    expect(first.body.warnings).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'budget_threshold', threshold: 0.8, used: 8.4, limit: 10, budgetId: kb.id, scope: 'apiKey', subject: key.id, period: 'day', window: '2026-11-15' }),
      expect.objectContaining({ type: 'budget_threshold', threshold: 0.8, scope: 'user', subject: 'dana' }),
    ]));
    await track(a, org, key.headers, { eventType: 'push_sow_to_loe', userId: 'dana' }).expect(201); // 9.4: 90 %
    await track(a, org, key.headers, { eventType: 'solutioning_formatting', eventData: { complexity: 1 }, userId: 'zed' }).expect(402); // 3 > 0.6 left
    const notes = await a.dataSource.query(`SELECT type, threshold::float AS threshold, dedupe_key, payload->>'event' AS event FROM notifications WHERE organization_id = $1 AND type = 'budget_threshold' ORDER BY dedupe_key, threshold`, [org]);
    expect(notes).toHaveLength(4);
    expect(notes.every((n: { event: string }) => n.event === 'budget.threshold_crossed')).toBe(true);
    expect(new Set(notes.map((n: { dedupe_key: string }) => n.dedupe_key)).size).toBe(2);
    // Each went to the organization's webhook outbox, like the organization's own crossings.
    const [outbox] = await a.dataSource.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE organization_id = $1 AND event = 'budget.threshold_crossed'`, [org]);
    expect(outbox.n).toBe(4);
    // The next day is a new window: its crossings are notified again.
    clock.set('2026-11-16T08:00:00.000Z');
    await track(a, org, key.headers, { eventType: 'solutioning_node_stack', eventData: { complexity: 1.4 } }).expect(201);
    const again = await a.dataSource.query(`SELECT count(*)::int AS n FROM notifications WHERE organization_id = $1 AND type = 'budget_threshold'`, [org]);
    expect(again[0].n).toBe(5);
    clock.set('2026-11-15T12:00:00.000Z');
  });

  it(`the race: a budget is never exceeded under concurrency${ON_POSTGRES ? ', across two instances' : ''} (single, batch, reservations, @TrackUsage)`, async () => {
    const rounds = ON_POSTGRES ? 25 : 8;
    for (let round = 0; round < rounds; round++) {
      const org = await createOrg();
      const key = await createKey(org);
      const limit = 7 + (round % 5);
      const kb = await budget(org, { scope: 'apiKey', subject: key.id, credits: limit, period: round % 2 === 0 ? 'month' : 'day' });
      const ub = await budget(org, { scope: 'user', subject: 'racer', credits: limit - 2, period: 'month' });
      const calls: Array<Promise<{ status: number }>> = [];
      for (let i = 0; i < 24; i++) {
        const t = i % 2 === 0 ? a : b;
        const user = i % 3 === 0 ? { userId: 'racer' } : {};
        if (i % 4 === 0) calls.push(track(t, org, key.headers, { eventType: 'push_sow_to_loe', ...user }));
        else if (i % 4 === 1) calls.push(track(t, org, key.headers, { events: [{ eventType: 'push_sow_to_loe', ...user }, { eventType: 'push_sow_to_loe' }] }));
        else if (i % 4 === 2) calls.push(t.http().post(`/api/organizations/${org}/usage/reservations`).set(key.headers).send({ eventType: 'push_sow_to_loe', ...user }));
        else calls.push(t.http().post('/api/export/pdf').set(key.headers).set(user.userId ? { 'X-User-Id': 'racer' } : {}).send({}));
      }
      const answers = await Promise.all(calls);
      expect(answers.every((r) => [200, 201, 402].includes(r.status))).toBe(true);
      const [usage] = await a.dataSource.query(
        `SELECT (SELECT used::float FROM budget_usage WHERE organization_id = $1 AND budget_id = $2) AS key_used,
                (SELECT used::float FROM budget_usage WHERE organization_id = $1 AND budget_id = $3) AS user_used`,
        [org, kb.id, ub.id],
      );
      const state = await ledgerState(a.dataSource, org);
      const charged = Number(state.events.credits) + Number(state.reserved.credits);
      // Every credit charged went through the key: the key's budget holds exactly what was charged, and never more than its limit.
      expect({ round, used: usage.key_used }).toEqual({ round, used: charged });
      expect(usage.key_used).toBeLessThanOrEqual(limit);
      expect(usage.user_used).toBeLessThanOrEqual(limit - 2);
      // The demand (24 calls, 30 events of 1 to 2 credits) is far above the limit: it is used to the last credit it can be.
      expect(usage.key_used).toBeGreaterThanOrEqual(limit - 1);
      await expectLedgerConsistent(a.dataSource, org);
    }
  });
});
