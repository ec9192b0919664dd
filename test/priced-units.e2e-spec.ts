import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import { FakeClock } from '../src/common/clock/clock';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { createOrg as newOrg } from './utils/factories';

/**
 * Priced quantities: an event definition's `units {name: creditsPerUnit}`, `eventData.units`
 * on every path (single, batch, reservations, @TrackUsage), bad quantities refused with nothing written.
 * The seeded llm_completion: base 0.5, inputTokens 0.002, outputTokens 0.008, maxUnits 8,000 / 2,000.
 */

describe('priced quantities (units)', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  const createOrg = (plan = 'free'): Promise<string> => newOrg(t, plan, { prefix: 'units' });
  const track = (id: string, body: Record<string, unknown>) => t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).send(body);
  const reserve = (id: string, body: Record<string, unknown>) => t.http().post(`/api/organizations/${id}/usage/reservations`).set(ADMIN).send(body);
  const commit = (id: string, rid: string, body: Record<string, unknown> = {}) => t.http().post(`/api/organizations/${id}/usage/reservations/${rid}/commit`).set(ADMIN).send(body);
  const summary = async (id: string) => (await t.http().get(`/api/organizations/${id}/usage`).set(ADMIN).expect(200)).body;
  const llmPrice = (input: number, output: number) => Number(new Big('0.5').plus(new Big(input).times('0.002')).plus(new Big(output).times('0.008')).round(2, Big.roundHalfUp).toString());

  it('prices eventData.units: base + Σ quantity × rate, each part in the breakdown', async () => {
    const id = await createOrg();
    const res = await track(id, { eventType: 'llm_completion', eventData: { units: { inputTokens: 1200, outputTokens: 300 } } }).expect(201);
    expect(res.body).toMatchObject({
      creditsConsumed: 5.3,
      remainingCredits: 94.7,
      breakdown: {
        baseCredits: 0.5,
        factor: 1,
        featureBonuses: {},
        units: { inputTokens: { quantity: 1200, creditsPerUnit: 0.002, credits: 2.4 }, outputTokens: { quantity: 300, creditsPerUnit: 0.008, credits: 2.4 } },
        unitCredits: 4.8,
        total: 5.3,
        version: 1,
      },
    });
    const [row] = await t.dataSource.query(`SELECT credits::text, breakdown FROM usage_events WHERE organization_id = $1`, [id]);
    expect(row.credits).toBe('5.300000');
    expect(row.breakdown.units.outputTokens).toEqual({ quantity: 300, creditsPerUnit: 0.008, credits: 2.4 });
    await expectLedgerConsistent(t.dataSource, id);
  });

  it.each<[string, unknown, string]>([
    ['an unknown unit name', { cachedTokens: 10 }, 'eventData.units.cachedTokens'],
    ['a negative quantity', { inputTokens: -1 }, 'eventData.units.inputTokens'],
    ['a non-integer quantity', { outputTokens: 2.5 }, 'eventData.units.outputTokens'],
    ['a quantity as a string', { outputTokens: '25' }, 'eventData.units.outputTokens'],
    ['units that are not an object', [1200, 300], 'eventData.units'],
  ])('refuses %s with 400 and writes nothing', async (_name, units, field) => {
    const id = await createOrg();
    const res = await track(id, { eventType: 'llm_completion', eventData: { units }, idempotencyKey: `bad-${id}` }).expect(400);
    expect(res.body).toMatchObject({ error: 'VALIDATION_FAILED', details: { fields: { [field]: [expect.any(String)] } } });
    const state = await ledgerState(t.dataSource, id);
    expect(state.events.n).toBe(0);
    expect(state.keys).toBe(0);
    expect((await summary(id)).used).toBe(0);
    // The same key is free for a good request: the refusal did not burn it.
    await track(id, { eventType: 'llm_completion', eventData: { units: { inputTokens: 10 } }, idempotencyKey: `bad-${id}` }).expect(201);
  });

  it('refuses units on an event type that prices none', async () => {
    const id = await createOrg();
    const res = await track(id, { eventType: 'structuring_diagnose', eventData: { complexity: 1, units: { inputTokens: 5 } } }).expect(400);
    expect(res.body.details.fields['eventData.units.inputTokens']).toBeDefined();
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(0);
  });

  it('a batch keeps each item: a bad quantity is rejected in its place, the rest priced by their units', async () => {
    const id = await createOrg();
    const res = await track(id, {
      events: [
        { eventType: 'llm_completion', eventData: { units: { inputTokens: 1000, outputTokens: 100 } } },
        { eventType: 'llm_completion', eventData: { units: { inputTokens: -5 } } },
        { eventType: 'llm_completion', eventData: { units: { outputTokens: 1 } } },
      ],
    }).expect(200);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'rejected', 'accepted']);
    expect(res.body.results[0].result.creditsConsumed).toBe(3.3);
    expect(res.body.results[1].error).toMatchObject({ statusCode: 400, error: 'VALIDATION_FAILED' });
    expect(res.body.results[2].result.creditsConsumed).toBe(0.51);
    expect((await summary(id)).used).toBe(3.81);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('a reservation without quantities holds maxUnits; the commit re-prices with the real ones', async () => {
    const id = await createOrg();
    const r = await reserve(id, { eventType: 'llm_completion', eventData: {} }).expect(201);
    expect(r.body).toMatchObject({ credits: 32.5, remainingCredits: 67.5 });
    await expectLedgerConsistent(t.dataSource, id);
    const c = await commit(id, r.body.reservationId, { eventData: { units: { inputTokens: 1200, outputTokens: 300 } } }).expect(200);
    expect(c.body).toMatchObject({ creditsConsumed: 5.3, remainingCredits: 94.7, breakdown: { unitCredits: 4.8 } });
    expect((await summary(id)).used).toBe(5.3);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('a commit without eventData charges the held maxUnits, never less than was held for', async () => {
    const id = await createOrg();
    const r = await reserve(id, { eventType: 'llm_completion' }).expect(201);
    const c = await commit(id, r.body.reservationId).expect(200);
    expect(c.body).toMatchObject({ creditsConsumed: 32.5, breakdown: { units: { inputTokens: { quantity: 8000 }, outputTokens: { quantity: 2000 } } } });
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('a reservation holds the quantities it names; a bigger real price must still fit (402, the hold stays)', async () => {
    const id = await createOrg();
    const r = await reserve(id, { eventType: 'llm_completion', eventData: { units: { outputTokens: 10 } } }).expect(201);
    expect(r.body.credits).toBe(0.58);
    const tooMuch = await commit(id, r.body.reservationId, { eventData: { units: { outputTokens: 100_000 } } }).expect(402);
    expect(tooMuch.body).toMatchObject({ error: 'CREDITS_EXHAUSTED', details: { required: 800.5 } });
    expect((await ledgerState(t.dataSource, id)).reserved.n).toBe(1);
    await commit(id, r.body.reservationId, { eventData: { units: { outputTokens: -1 } } }).expect(400);
    expect((await ledgerState(t.dataSource, id)).reserved.n).toBe(1);
    await commit(id, r.body.reservationId, { eventData: { units: { outputTokens: 20 } } }).expect(200);
    expect((await summary(id)).used).toBe(0.66);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('@TrackUsage: holds the estimate, charges the tokens the completion reported', async () => {
    const id = await createOrg();
    const prompt = 'x'.repeat(400); // 100 input tokens
    const res = await t.http().post('/api/llm/complete').set(ADMIN).set('X-Organization-Id', id).send({ prompt, maxTokens: 300 }).expect(200);
    const { inputTokens, outputTokens } = res.body.tokens;
    expect(inputTokens).toBe(100);
    expect(outputTokens).toBeLessThanOrEqual(300);
    const price = llmPrice(inputTokens, outputTokens);
    expect(res.body.usage).toMatchObject({ eventType: 'llm_completion', creditsConsumed: price, remainingCredits: Number(new Big(100).minus(price).toString()), mode: 'sync' });
    expect(res.headers['x-credits-consumed']).toBe(String(price));
    const [row] = await t.dataSource.query(`SELECT breakdown FROM usage_events WHERE organization_id = $1`, [id]);
    expect(row.breakdown.units).toEqual({ inputTokens: { quantity: inputTokens, creditsPerUnit: 0.002, credits: expect.any(Number) }, outputTokens: { quantity: outputTokens, creditsPerUnit: 0.008, credits: expect.any(Number) } });
    expect((await ledgerState(t.dataSource, id)).reserved.n).toBe(0);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('@TrackUsage: an estimate that does not fit is 402 before the completion runs', async () => {
    const id = await createOrg();
    await track(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201); // 60
    await track(id, { eventType: 'structuring_generate_solution', eventData: { complexity: 2 } }).expect(201); // 30: 10 left
    // 0.5 + 0 input + 2,000 × 0.008 = 16.5 > 10: refused whole, nothing charged.
    const refused = await t.http().post('/api/llm/complete').set(ADMIN).set('X-Organization-Id', id).send({ prompt: '', maxTokens: 2000 }).expect(402);
    expect(refused.body).toMatchObject({ error: 'CREDITS_EXHAUSTED', details: { required: 16.5, remaining: 10 } });
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(2);
    // A smaller estimate fits, and the real tokens are charged.
    const ok = await t.http().post('/api/llm/complete').set(ADMIN).set('X-Organization-Id', id).send({ prompt: 'hello', maxTokens: 100 }).expect(200);
    expect(ok.body.usage.creditsConsumed).toBe(llmPrice(ok.body.tokens.inputTokens, ok.body.tokens.outputTokens));
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('@TrackUsage: a failed completion releases the hold and charges nothing', async () => {
    const id = await createOrg();
    await t.http().post('/api/llm/complete').set(ADMIN).set('X-Organization-Id', id).send({ prompt: 'x', simulateFailure: true }).expect(503);
    const state = await ledgerState(t.dataSource, id);
    expect(state.events.n).toBe(0);
    expect(state.reserved.n).toBe(0);
    expect((await summary(id)).used).toBe(0);
  });

  describe('definitions with units: validated like the rest, versioned', () => {
    const definition = { eventType: 'units_probe', displayName: 'Units probe', category: 'ai_llm', baseCredits: 1, units: { calls: 0.25 } };

    it('refuses bad units with a message per field and stores nothing', async () => {
      const res = await t.http().post('/api/admin/events').set(ADMIN).send({ ...definition, eventType: 'units_bad', units: { a: -1, b: 0.0000001, 'c d': 1 }, maxUnits: { zz: 3 } }).expect(400);
      expect(Object.keys(res.body.details.fields).sort()).toEqual(['maxUnits.zz', 'units.a', 'units.b', 'units.c d'].sort());
      await t.http().get('/api/admin/events/units_bad').set(ADMIN).expect(404);
    });

    it('creates, re-prices from the next event after a change, and keeps each version', async () => {
      const created = await t.http().post('/api/admin/events').set(ADMIN).send(definition).expect(201);
      expect(created.body).toMatchObject({ units: { calls: 0.25 }, version: 1 });
      const id = await createOrg();
      expect((await track(id, { eventType: 'units_probe', eventData: { units: { calls: 4 } } }).expect(201)).body.creditsConsumed).toBe(2);
      // An invalid change leaves the definition as it was.
      await t.http().patch('/api/admin/events/units_probe').set(ADMIN).send({ units: { calls: 'cheap' } }).expect(400);
      const changed = await t.http().patch('/api/admin/events/units_probe').set(ADMIN).send({ units: { calls: 0.5 } }).expect(200);
      expect(changed.body).toMatchObject({ units: { calls: 0.5 }, version: 2 });
      const second = await track(id, { eventType: 'units_probe', eventData: { units: { calls: 4 } } }).expect(201);
      expect(second.body).toMatchObject({ creditsConsumed: 3, breakdown: { version: 2 } });
      const history = await t.http().get('/api/admin/events/units_probe/history').set(ADMIN).expect(200);
      expect(history.body.items[0]).toMatchObject({ version: 2, before: { units: { calls: 0.25 } }, after: { units: { calls: 0.5 } } });
      await t.http().post('/api/admin/events/units_probe/rollback').set(ADMIN).send({ version: 1 }).expect(200);
      expect((await track(id, { eventType: 'units_probe', eventData: { units: { calls: 4 } } }).expect(201)).body).toMatchObject({ creditsConsumed: 2, breakdown: { version: 3 } });
    });
  });
});
