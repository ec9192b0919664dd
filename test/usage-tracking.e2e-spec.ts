import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { createTestDatabase } from './utils/test-database';
import { createOrg as newOrg } from './utils/factories';

let seq = 0;
const orgId = (prefix: string) => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

describe('synchronous usage tracking', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  const createOrg = (plan = 'free', extra: Record<string, unknown> = {}): Promise<string> => newOrg(t, plan, { prefix: 'org', ...extra });
  const track = (id: string, body: Record<string, unknown>) => t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).send(body);

  it('prices the SPEC example through the demo endpoint: 25 credits', async () => {
    const id = await createOrg('free');
    const res = await t.http().post('/api/demo/track-usage').set(ADMIN)
      .send({ organizationId: id, eventType: 'structuring_diagnose', eventData: { complexity: 2.0, echo: true }, userId: 'user-1' })
      .expect(201);
    expect(res.body).toMatchObject({
      success: true,
      eventType: 'structuring_diagnose',
      creditsConsumed: 25,
      remainingCredits: 75,
      overageCredits: 0,
      warnings: [],
      period: { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' },
      duplicate: false,
      breakdown: { baseCredits: 10, factor: 2, featureBonuses: { echo: 5 }, total: 25, version: 1 },
    });
    const [row] = await t.dataSource.query(`SELECT user_id, credits::text, definition_version, breakdown FROM usage_events WHERE id = $1`, [res.body.eventId]);
    expect(row).toMatchObject({ user_id: 'user-1', credits: '25.000000', definition_version: 1 });
    expect(row.breakdown.total).toBe(25);
  });

  it("a batch's ledger rows each keep their own event's price breakdown (in the batch's order, a refused one skipped)", async () => {
    const id = await createOrg('enterprise');
    const events = [
      { eventType: 'structuring_diagnose', eventData: { complexity: 2.0, echo: true } },
      { eventType: 'visuals_planning', eventData: { complexity: 1.5 } },
      { eventType: 'no_such_event' },
      { eventType: 'solutioning_formatting', eventData: { inputText: 'x'.repeat(800) } },
      { eventType: 'structuring_diagnose', eventData: { complexity: 3.0 } },
      { eventType: 'export_pdf' },
    ];
    const res = await track(id, { events }).expect(200);
    const accepted = (res.body.results as Array<{ status: string; result?: { eventId: string; breakdown: unknown } }>).filter((r) => r.status === 'accepted');
    expect(accepted).toHaveLength(5);
    expect(new Set(accepted.map((r) => JSON.stringify(r.result!.breakdown))).size).toBe(5);
    const rows = (await t.dataSource.query(`SELECT id, breakdown FROM usage_events WHERE organization_id = $1`, [id])) as Array<{ id: string; breakdown: unknown }>;
    const stored = new Map(rows.map((r) => [r.id, r.breakdown]));
    for (const r of accepted) expect(stored.get(r.result!.eventId)).toEqual(r.result!.breakdown);
  });

  it('creates organizations with validation and 409 on a duplicate id', async () => {
    const id = await createOrg('starter');
    const dup = await t.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: 'x', plan: 'starter' }).expect(409);
    expect(dup.body.error).toBe('ALREADY_EXISTS');
    const bad = await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'bad id!', name: '', plan: 'starter', spendCap: -1, extra: 1 }).expect(400);
    expect(Object.keys(bad.body.details.fields).sort()).toEqual(['extra', 'id', 'name', 'spendCap']);
    const unknownPlan = await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: orgId('x'), name: 'x', plan: 'platinum' }).expect(404);
    expect(unknownPlan.body.error).toBe('PLAN_NOT_FOUND');
    const got = await t.http().get(`/api/admin/organizations/${id}`).set(ADMIN).expect(200);
    expect(got.body).toMatchObject({ id, plan: 'starter', billingCycle: 'monthly', spendCap: null });
    expect(got.body.webhookSecret).toBeUndefined();
  });

  it('runs into the hard cap with 402 CREDITS_EXHAUSTED and a suggested plan, recording nothing', async () => {
    const id = await createOrg('free');
    await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201); // 60
    await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 1.5 } }).expect(201); // 30
    const before = await ledgerState(t.dataSource, id);
    const res = await track(id, { eventType: 'visuals_sketch' }).expect(402);
    expect(res.body).toMatchObject({
      statusCode: 402,
      error: 'CREDITS_EXHAUSTED',
      details: { required: 12, remaining: 10, plan: 'free', suggestedPlan: { name: 'starter' } },
    });
    expect(await ledgerState(t.dataSource, id)).toEqual(before);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('200 concurrent requests of 1 credit against 100 remaining: exactly 100 accepted', async () => {
    const id = await createOrg('free');
    const responses = await Promise.all(Array.from({ length: 200 }, () => track(id, { eventType: 'push_sow_to_loe' })));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(100);
    expect(statuses.filter((s) => s === 402)).toHaveLength(100);
    const { events, balances } = await ledgerState(t.dataSource, id);
    expect(events.n).toBe(100);
    expect(Number(balances.consumed)).toBe(100);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('a concurrent mix of event types, top-ups and overage never passes the spend cap', async () => {
    const id = await createOrg('starter', { spendCap: 1 }); // 1000 credits, then 0.02/credit up to $1 = 50 credits
    await t.http().post(`/api/admin/organizations/${id}/credits`).set(ADMIN).send({ amount: 100, expiresAt: '2027-01-01T00:00:00.000Z' }).expect(201);
    await t.http().post(`/api/admin/organizations/${id}/credits`).set(ADMIN).send({ amount: 30.5, expiresAt: '2026-12-01T00:00:00.000Z' }).expect(201);
    const kinds = [
      { eventType: 'structuring_generate_solution', eventData: { complexity: 2.2, traceback: true } },
      { eventType: 'visuals_sketch' },
      { eventType: 'push_structuring_to_visuals' },
      { eventType: 'solutioning_formatting', eventData: { inputText: 'x'.repeat(3000) } },
    ];
    const responses = await Promise.all(Array.from({ length: 150 }, (_, i) => track(id, kinds[i % kinds.length])));
    expect(responses.every((r) => r.status === 201 || r.status === 402)).toBe(true);
    const accepted = responses.filter((r) => r.status === 201).map((r) => r.body);
    expect(accepted.some((b) => b.overageCredits > 0)).toBe(true);
    await expectLedgerConsistent(t.dataSource, id);
    const [b] = await t.dataSource.query(`SELECT allowance::text, allowance_used::text, grants_used::text, overage_used::text FROM period_balances WHERE organization_id = $1`, [id]);
    expect(b.allowance_used).toBe('1000.000000');
    expect(b.grants_used).toBe('130.500000');
    expect(Number(b.overage_used) * 0.02).toBeLessThanOrEqual(1);
    // The grant that expires first was emptied first.
    const grants = await t.dataSource.query(`SELECT amount::text, remaining::text FROM credit_grants WHERE organization_id = $1 ORDER BY expires_at`, [id]);
    expect(grants).toEqual([{ amount: '30.50', remaining: '0.000000' }, { amount: '100.00', remaining: '0.000000' }]);
  });

  it('consumes top-ups earliest expiry first and skips expired ones', async () => {
    const id = await createOrg('free');
    const late = await t.http().post(`/api/admin/organizations/${id}/credits`).set(ADMIN).send({ amount: 20 }).expect(201);
    const soon = await t.http().post(`/api/admin/organizations/${id}/credits`).set(ADMIN).send({ amount: 10, expiresAt: '2026-11-20T00:00:00.000Z', reason: 'promo' }).expect(201);
    await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201); // 60
    const r = await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 2.5 } }).expect(201); // 50: 40 allowance + 10 soon
    expect(r.body.remainingCredits).toBe(20);
    const grants = await t.http().get(`/api/admin/organizations/${id}/credits`).set(ADMIN).expect(200);
    const byId = Object.fromEntries(grants.body.items.map((g: { id: string; remaining: number }) => [g.id, g.remaining]));
    expect(byId[soon.body.id]).toBe(0);
    expect(byId[late.body.id]).toBe(20);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('refuses a grant that expired already and bad amounts', async () => {
    const id = await createOrg('free');
    await t.http().post(`/api/admin/organizations/${id}/credits`).set(ADMIN).send({ amount: 5, expiresAt: '2026-01-01T00:00:00.000Z' }).expect(400);
    await t.http().post(`/api/admin/organizations/${id}/credits`).set(ADMIN).send({ amount: 0 }).expect(400);
    await t.http().post(`/api/admin/organizations/${id}/credits`).set(ADMIN).send({ amount: 1.005 }).expect(400);
    await t.http().post(`/api/admin/organizations/nope-${id}/credits`).set(ADMIN).send({ amount: 5 }).expect(404);
    const grants = await t.http().get(`/api/admin/organizations/${id}/credits`).set(ADMIN).expect(200);
    expect(grants.body.items).toEqual([]);
  });

  it('enforces count limits with 402 LIMIT_EXCEEDED', async () => {
    const id = await createOrg('free'); // 5 PDF exports a month
    for (let i = 0; i < 5; i++) await track(id, { eventType: 'export_pdf' }).expect(201);
    const res = await track(id, { eventType: 'export_pdf' }).expect(402);
    expect(res.body).toMatchObject({ error: 'LIMIT_EXCEEDED', details: { limit: 'pdfExportsPerMonth', max: 5, used: 5, plan: 'free', suggestedPlan: { name: 'starter' } } });
    const summary = await t.http().get(`/api/organizations/${id}/usage`).set(ADMIN).expect(200);
    expect(summary.body.limits.pdfExportsPerMonth).toEqual({ used: 5, limit: 5 });
    expect(summary.body.used).toBe(10);
  });

  it('warns once per threshold crossing and records each crossing once per period', async () => {
    const id = await createOrg('free');
    const first = await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201); // 60
    expect(first.body.warnings).toEqual([]);
    const second = await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 1.25 } }).expect(201); // 25 -> 85
    expect(second.body.warnings).toEqual([{ type: 'usage_threshold', threshold: 0.8, used: 85, limit: 100 }]);
    const third = await track(id, { eventType: 'visuals_sketch' }).expect(201); // 12 -> 97
    expect(third.body.warnings.map((w: { threshold: number }) => w.threshold)).toEqual([0.9]);
    const notes = await t.http().get(`/api/organizations/${id}/notifications`).set(ADMIN).expect(200);
    expect(notes.body.items.map((n: { threshold: number }) => n.threshold).sort()).toEqual([0.8, 0.9]);
    const summary = await t.http().get(`/api/organizations/${id}/usage`).set(ADMIN).expect(200);
    expect(summary.body).toMatchObject({ plan: { name: 'free' }, allowance: 100, used: 97, remaining: 3, percentUsed: 97 });
    expect(summary.body.warnings).toHaveLength(2);
  });

  describe('idempotency', () => {
    it('a replay returns the original result with duplicate: true and charges nothing', async () => {
      const id = await createOrg('starter');
      const body = { eventType: 'visuals_planning', eventData: { complexity: 2 }, idempotencyKey: 'k-1' };
      const first = await track(id, body).expect(201);
      const replay = await track(id, { ...body, eventData: { complexity: 2 } }).expect(201);
      expect(replay.body).toEqual({ ...first.body, duplicate: true });
      const viaHeader = await t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).set('Idempotency-Key', 'k-1').send({ eventType: 'visuals_planning', eventData: { complexity: 2 } }).expect(201);
      expect(viaHeader.body.eventId).toBe(first.body.eventId);
      expect((await ledgerState(t.dataSource, id)).events.n).toBe(1);
    });

    it('the same key with another payload is 409 IDEMPOTENCY_CONFLICT', async () => {
      const id = await createOrg('starter');
      await track(id, { eventType: 'visuals_planning', idempotencyKey: 'k-2' }).expect(201);
      const res = await track(id, { eventType: 'visuals_planning', eventData: { complexity: 2 }, idempotencyKey: 'k-2' }).expect(409);
      expect(res.body.error).toBe('IDEMPOTENCY_CONFLICT');
      expect((await ledgerState(t.dataSource, id)).events.n).toBe(1);
    });

    it('50 concurrent requests with one key charge once', async () => {
      const id = await createOrg('starter');
      const responses = await Promise.all(Array.from({ length: 50 }, () => track(id, { eventType: 'visuals_sketch', idempotencyKey: 'same' })));
      expect(responses.every((r) => r.status === 201)).toBe(true);
      expect(new Set(responses.map((r) => r.body.eventId)).size).toBe(1);
      expect(responses.filter((r) => r.body.duplicate === false)).toHaveLength(1);
      const { events } = await ledgerState(t.dataSource, id);
      expect(events.n).toBe(1);
      expect(Number(events.credits)).toBe(12);
    });

    it('a rejected attempt (402, 400) does not burn the key', async () => {
      const id = await createOrg('free');
      await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201);
      await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 2.5 }, idempotencyKey: 'retry-me' }).expect(402);
      await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 'x' }, idempotencyKey: 'retry-me' }).expect(400);
      expect((await ledgerState(t.dataSource, id)).keys).toBe(0);
      await t.http().post(`/api/admin/organizations/${id}/credits`).set(ADMIN).send({ amount: 50 }).expect(201);
      const ok = await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 2.5 }, idempotencyKey: 'retry-me' }).expect(201);
      expect(ok.body.duplicate).toBe(false);
      await expectLedgerConsistent(t.dataSource, id);
    });
  });

  describe('batch ingestion', () => {
    it('answers one result per event, in order', async () => {
      const id = await createOrg('free');
      const res = await track(id, {
        events: [
          { eventType: 'visuals_planning', idempotencyKey: 'b-1' },
          { eventType: 'visuals_planning', idempotencyKey: 'b-1' },
          { eventType: 'no_such_event' },
          { eventType: 'visuals_planning', eventData: { complexity: -1 } },
          { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } },
          { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } },
        ],
      }).expect(200);
      expect(res.body.results.map((r: { status: string; error?: { error: string } }) => r.error?.error ?? r.status)).toEqual([
        'accepted',
        'duplicate',
        'EVENT_TYPE_NOT_FOUND',
        'VALIDATION_FAILED',
        'accepted',
        'CREDITS_EXHAUSTED',
      ]);
      expect(res.body.results[1].result.eventId).toBe(res.body.results[0].result.eventId);
      expect((await ledgerState(t.dataSource, id)).events.n).toBe(2);
      await expectLedgerConsistent(t.dataSource, id);
    });

    it('a batch without repeated keys (one set-based debit): replays, conflicts, refusals that free their key', async () => {
      const id = await createOrg('free');
      await track(id, { eventType: 'visuals_planning', idempotencyKey: 'seen' }).expect(201); // 8
      await track(id, { eventType: 'visuals_sketch', idempotencyKey: 'other' }).expect(201); // 12 -> 20 used
      const res = await track(id, {
        events: [
          { eventType: 'visuals_planning', idempotencyKey: 'seen' },
          { eventType: 'visuals_planning', eventData: { complexity: 2 }, idempotencyKey: 'other' },
          { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 }, idempotencyKey: 'big' }, // 60 -> 80
          { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 1.5 }, idempotencyKey: 'too-big' }, // 30 > 20 left
          { eventType: 'push_sow_to_loe' },
        ],
      }).expect(200);
      expect(res.body.results.map((r: { status: string; error?: { error: string } }) => r.error?.error ?? r.status)).toEqual(['duplicate', 'IDEMPOTENCY_CONFLICT', 'accepted', 'CREDITS_EXHAUSTED', 'accepted']);
      expect(res.body.results[2].result.remainingCredits).toBe(20);
      expect(res.body.results[4].result.remainingCredits).toBe(19);
      const keys = (await t.dataSource.query(`SELECT key FROM idempotency_keys WHERE organization_id = $1 ORDER BY key`, [id])).map((r: { key: string }) => r.key);
      expect(keys).toEqual(['big', 'other', 'seen']);
      await expectLedgerConsistent(t.dataSource, id);
    });

    it('refuses more than 1,000 events and an empty batch, writing nothing', async () => {
      const id = await createOrg('enterprise');
      const big = Array.from({ length: 1001 }, () => ({ eventType: 'push_sow_to_loe' }));
      await track(id, { events: big }).expect(400);
      await track(id, { events: [] }).expect(400);
      await track(id, { events: 'many' }).expect(400);
      expect((await ledgerState(t.dataSource, id)).events.n).toBe(0);
      const ok = await track(id, { events: big.slice(0, 1000) }).expect(200);
      expect(ok.body.results).toHaveLength(1000);
      expect((await ledgerState(t.dataSource, id)).events.n).toBe(1000);
    });
  });

  describe('bad input never reaches the ledger', () => {
    let id: string;
    beforeAll(async () => {
      id = await createOrg('starter');
      await t.http().post('/api/admin/events').set(ADMIN).send({ eventType: 'retired_tool', displayName: 'Retired', category: 'ai_analysis', baseCredits: 1 }).expect(201);
      await t.http().delete('/api/admin/events/retired_tool').set(ADMIN).expect(200);
    });

    const cases: Array<[string, Record<string, unknown>, number, string]> = [
      ['an unknown event type', { eventType: 'nope_nope' }, 404, 'EVENT_TYPE_NOT_FOUND'],
      ['an inactive event type', { eventType: 'retired_tool' }, 409, 'EVENT_TYPE_INACTIVE'],
      ['a NaN-like complexity', { eventType: 'visuals_planning', eventData: { complexity: 'NaN' } }, 400, 'VALIDATION_FAILED'],
      ['a negative complexity', { eventType: 'visuals_planning', eventData: { complexity: -2 } }, 400, 'VALIDATION_FAILED'],
      ['a huge complexity', { eventType: 'visuals_planning', eventData: { complexity: 1e300 } }, 400, 'VALIDATION_FAILED'],
      ['eventData that is an array', { eventType: 'visuals_planning', eventData: [1, 2] }, 400, 'VALIDATION_FAILED'],
      ['eventData that is a string', { eventType: 'visuals_planning', eventData: 'hello' }, 400, 'VALIDATION_FAILED'],
      ['a bad date', { eventType: 'visuals_planning', occurredAt: '2026-13-45' }, 400, 'VALIDATION_FAILED'],
      ['a date that is not a date', { eventType: 'visuals_planning', occurredAt: 'yesterday' }, 400, 'VALIDATION_FAILED'],
      ['occurredAt 6 minutes ahead', { eventType: 'visuals_planning', occurredAt: '2026-11-15T12:06:00.000Z' }, 400, 'VALIDATION_FAILED'],
      ['eventData over 16 KiB', { eventType: 'visuals_planning', eventData: { inputText: 'x'.repeat(17 * 1024) } }, 413, 'PAYLOAD_TOO_LARGE'],
      ['an unknown field', { eventType: 'visuals_planning', surprise: 1 }, 400, 'VALIDATION_FAILED'],
      ['a missing eventType', { eventData: {} }, 400, 'VALIDATION_FAILED'],
      ['a numeric eventType', { eventType: 42 }, 400, 'VALIDATION_FAILED'],
      ['features that are not a list', { eventType: 'structuring_diagnose', eventData: { features: 'echo' } }, 400, 'VALIDATION_FAILED'],
    ];

    it.each(cases)('%s', async (_name, body, status, code) => {
      const before = await ledgerState(t.dataSource, id);
      const res = await track(id, body).expect(status);
      expect(res.body).toMatchObject({ statusCode: status, error: code });
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:|SELECT|INSERT/);
      expect(await ledgerState(t.dataSource, id)).toEqual(before);
    });

    it('an unknown organization is 404 ORGANIZATION_NOT_FOUND', async () => {
      const res = await track('ghost-org', { eventType: 'visuals_planning' }).expect(404);
      expect(res.body.error).toBe('ORGANIZATION_NOT_FOUND');
      const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_events WHERE organization_id = 'ghost-org'`);
      expect(n).toBe(0);
    });

    it('a body that is not JSON is 400', async () => {
      const res = await t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).set('content-type', 'application/json').send('{"eventType":').expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'VALIDATION_FAILED' });
    });

    it('a late event within an open period is accepted for that period', async () => {
      const res = await track(id, { eventType: 'visuals_planning', occurredAt: '2026-11-02T08:00:00.000Z' }).expect(201);
      expect(res.body.period.start).toBe('2026-11-01T00:00:00.000Z');
    });
  });

  describe('plans and members', () => {
    it('changes plan now (keeping what was used) or from the next period', async () => {
      const id = await createOrg('free');
      await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201); // 60
      await t.http().put(`/api/admin/organizations/${id}/plan`).set(ADMIN).send({ plan: 'starter' }).expect(200);
      let summary = await t.http().get(`/api/organizations/${id}/usage`).set(ADMIN).expect(200);
      expect(summary.body).toMatchObject({ plan: { name: 'starter' }, allowance: 1000, used: 60, remaining: 940 });
      const next = await t.http().put(`/api/admin/organizations/${id}/plan`).set(ADMIN).send({ plan: 'professional', effective: 'next_period' }).expect(200);
      expect(next.body).toMatchObject({ plan: 'starter', pendingPlan: { plan: 'professional', effectiveFrom: '2026-12-01T00:00:00.000Z' } });
      await t.http().put(`/api/admin/organizations/${id}/plan`).set(ADMIN).send({ plan: 'starter', effective: 'someday' }).expect(400);
      clock.set('2026-12-01T00:00:05.000Z');
      try {
        summary = await t.http().get(`/api/organizations/${id}/usage`).set(ADMIN).expect(200);
        expect(summary.body).toMatchObject({ plan: { name: 'professional' }, allowance: 5000, used: 0, pendingPlan: null });
        // A GET reads: the due change is shown in force, and the organization row is left to the period close.
        expect(await t.dataSource.query(`SELECT plan_name, pending_plan FROM organizations WHERE id = $1`, [id])).toEqual([{ plan_name: 'starter', pending_plan: 'professional' }]);
        const r = await track(id, { eventType: 'visuals_planning' }).expect(201);
        expect(r.body).toMatchObject({ remainingCredits: 4992, period: { start: '2026-12-01T00:00:00.000Z' } });
      } finally {
        clock.set('2026-11-15T12:00:00.000Z');
      }
    });

    it('enforces teamMembersLimit when adding members', async () => {
      const id = await createOrg('free'); // 1 member
      await t.http().post(`/api/admin/organizations/${id}/members`).set(ADMIN).send({ userId: 'u1', role: 'owner' }).expect(201);
      await t.http().post(`/api/admin/organizations/${id}/members`).set(ADMIN).send({ userId: 'u1', role: 'admin' }).expect(201); // role change
      const res = await t.http().post(`/api/admin/organizations/${id}/members`).set(ADMIN).send({ userId: 'u2', role: 'member' }).expect(402);
      expect(res.body).toMatchObject({ error: 'LIMIT_EXCEEDED', details: { limit: 'teamMembersLimit', max: 1 } });
      await t.http().post(`/api/admin/organizations/${id}/members`).set(ADMIN).send({ userId: 'u3', role: 'king' }).expect(400);
      const members = await t.http().get(`/api/admin/organizations/${id}/members`).set(ADMIN).expect(200);
      expect(members.body.items).toEqual([{ userId: 'u1', role: 'admin', createdAt: expect.any(String) }]);
    });
  });
});

const describeOnPostgres = process.env.DATABASE_URL ? describe : describe.skip;

describeOnPostgres('no overspend across two instances on one PostgreSQL', () => {
  it('200 concurrent 1-credit requests split over two instances: exactly 100 accepted', async () => {
    const database = await createTestDatabase();
    const a = await startTestApp({ database });
    const b = await startTestApp({ database });
    try {
      await a.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'shared-org', name: 'Shared', plan: 'free' }).expect(201);
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).http().post('/api/organizations/shared-org/usage/events').set(ADMIN).send({ eventType: 'push_sow_to_loe', idempotencyKey: `k-${i % 150}` })),
      );
      // 150 distinct keys: 50 are replays (of either instance's original), none charged twice.
      const accepted = responses.filter((r) => r.status === 201 && !r.body.duplicate);
      const rejected = responses.filter((r) => r.status === 402);
      expect(accepted).toHaveLength(100);
      expect(accepted.length + rejected.length + responses.filter((r) => r.status === 201 && r.body.duplicate).length).toBe(200);
      const { events, balances } = await ledgerState(a.dataSource, 'shared-org');
      expect(events.n).toBe(100);
      expect(Number(balances.consumed)).toBe(100);
      await expectLedgerConsistent(a.dataSource, 'shared-org');
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });
});

describe('input the fuzz found', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'fuzzed', name: 'Fuzzed', plan: 'starter' }).expect(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    ['PATCH name null', 'patch', '/api/admin/organizations/fuzzed', { name: null }, 'name'],
    ['PATCH billingCycle null', 'patch', '/api/admin/organizations/fuzzed', { billingCycle: null }, 'billingCycle'],
    ['POST spendCap null', 'post', '/api/admin/organizations', { id: 'nully', name: 'n', plan: 'free', spendCap: null }, 'spendCap'],
    ['credits 1e-7', 'post', '/api/admin/organizations/fuzzed/credits', { amount: 1e-7 }, 'amount'],
    ['spendCap 1e21', 'patch', '/api/admin/organizations/fuzzed', { spendCap: 1e21 }, 'spendCap'],
  ])('%s is 400 with a field message, not 500', async (_name, method, path, body, field) => {
    const res = await (method === 'post' ? t.http().post(path) : t.http().patch(path)).set(ADMIN).send(body).expect(400);
    expect(res.body.details.fields[field]).toBeDefined();
  });

  it('a spend cap can still be removed with null', async () => {
    await t.http().patch('/api/admin/organizations/fuzzed').set(ADMIN).send({ spendCap: 5 }).expect(200);
    const res = await t.http().patch('/api/admin/organizations/fuzzed').set(ADMIN).send({ spendCap: null }).expect(200);
    expect(res.body.spendCap).toBeNull();
  });

  it('breakdown dates out of range are 400', async () => {
    await t.http().get('/api/organizations/fuzzed/usage/breakdown?to=9999-12-31').set(ADMIN).expect(400);
    await t.http().get('/api/organizations/fuzzed/usage/breakdown?from=2026-02-30').set(ADMIN).expect(400);
    await t.http().get('/api/organizations/fuzzed/usage/breakdown?from=2026-11-01&to=2026-11-30').set(ADMIN).expect(200);
  });

  it('a body field named like an Object.prototype member gets a field message, not a crash', async () => {
    const res = await t.http().post('/api/admin/events').set(ADMIN).send({ eventType: 'x_y', displayName: 'x', category: 'ai_analysis', baseCredits: 1, valueOf: 1 });
    expect(res.status).toBe(400);
  });

  it('X-User-Id attributes an event tracked through the HTTP API', async () => {
    const res = await t.http().post('/api/organizations/fuzzed/usage/events').set(ADMIN).set('X-User-Id', 'header-user').send({ eventType: 'visuals_planning' }).expect(201);
    const [row] = await t.dataSource.query(`SELECT user_id FROM usage_events WHERE id = $1`, [res.body.eventId]);
    expect(row.user_id).toBe('header-user');
  });
});
