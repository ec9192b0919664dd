import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { ReservationsService } from '../src/modules/usage/reservations.service';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { createOrg as newOrg } from './utils/factories';

describe('reservations', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  const createOrg = (plan = 'free'): Promise<string> => newOrg(t, plan, { prefix: 'res' });
  const reserve = (id: string, body: Record<string, unknown>) => t.http().post(`/api/organizations/${id}/usage/reservations`).set(ADMIN).send(body);
  const commit = (id: string, rid: string, body: Record<string, unknown> = {}) => t.http().post(`/api/organizations/${id}/usage/reservations/${rid}/commit`).set(ADMIN).send(body);
  const release = (id: string, rid: string) => t.http().post(`/api/organizations/${id}/usage/reservations/${rid}/release`).set(ADMIN).send({});
  const summary = async (id: string) => (await t.http().get(`/api/organizations/${id}/usage`).set(ADMIN).expect(200)).body;

  it('holds the credits at once, commits re-priced with the final data', async () => {
    const id = await createOrg();
    const r = await reserve(id, { eventType: 'structuring_diagnose', eventData: { complexity: 1 } }).expect(201);
    expect(r.body).toMatchObject({ credits: 10, remainingCredits: 90, status: 'pending', expiresAt: '2026-11-15T12:10:00.000Z' });
    expect((await summary(id)).remaining).toBe(90);
    await expectLedgerConsistent(t.dataSource, id);
    const c = await commit(id, r.body.reservationId, { eventData: { complexity: 2, echo: true } }).expect(200);
    expect(c.body).toMatchObject({ success: true, creditsConsumed: 25, remainingCredits: 75, eventType: 'structuring_diagnose' });
    expect((await summary(id)).used).toBe(25);
    const { events } = await ledgerState(t.dataSource, id);
    expect(events.n).toBe(1);
    await expectLedgerConsistent(t.dataSource, id);
    const again = await commit(id, r.body.reservationId).expect(409);
    expect(again.body).toMatchObject({ error: 'RESERVATION_SETTLED', details: { status: 'committed' } });
    await release(id, r.body.reservationId).expect(409);
  });

  it('a commit above the reserved amount must fit (402, and the reservation stays pending)', async () => {
    const id = await createOrg();
    await t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).send({ eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201); // 60
    const r = await reserve(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 1 } }).expect(201); // 20 -> 80
    const tooMuch = await commit(id, r.body.reservationId, { eventData: { complexity: 3 } }).expect(402); // 60 > 40 left with the hold given back
    expect(tooMuch.body).toMatchObject({ error: 'CREDITS_EXHAUSTED', details: { required: 60, remaining: 40 } });
    const state = await ledgerState(t.dataSource, id);
    expect(state.reserved.n).toBe(1);
    await expectLedgerConsistent(t.dataSource, id);
    const ok = await commit(id, r.body.reservationId, { eventData: { complexity: 2 } }).expect(200); // 40 fits exactly
    expect(ok.body).toMatchObject({ creditsConsumed: 40, remainingCredits: 0 });
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('release gives everything back, top-ups and limit counts included', async () => {
    const id = await createOrg();
    await t.http().post(`/api/admin/organizations/${id}/credits`).set(ADMIN).send({ amount: 50 }).expect(201);
    await t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).send({ eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201); // 60
    const r = await reserve(id, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201); // 40 allowance + 20 grant
    expect(r.body.remainingCredits).toBe(30);
    await expectLedgerConsistent(t.dataSource, id);
    const rel = await release(id, r.body.reservationId).expect(200);
    expect(rel.body).toEqual({ reservationId: r.body.reservationId, status: 'released', releasedCredits: 60 });
    const s = await summary(id);
    expect(s).toMatchObject({ used: 60, remaining: 90, topUpsRemaining: 50 });
    expect(s.limits.aiCallsPerMonth.used).toBe(1);
    await commit(id, r.body.reservationId).expect(409);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('expires after the TTL: the sweep gives the credits back and a late commit is 409', async () => {
    const id = await createOrg();
    const r = await reserve(id, { eventType: 'visuals_sketch', ttlSeconds: 60 }).expect(201);
    const r2 = await reserve(id, { eventType: 'visuals_sketch', ttlSeconds: 600 }).expect(201);
    expect((await summary(id)).remaining).toBe(76);
    clock.advance(61_000);
    expect(await t.app.get(ReservationsService).expireDue()).toBe(1);
    expect(await t.app.get(ReservationsService).expireDue()).toBe(0);
    expect((await summary(id)).remaining).toBe(88);
    const late = await commit(id, r.body.reservationId).expect(409);
    expect(late.body.details.status).toBe('expired');
    // Past its TTL but not yet swept: the commit itself expires it.
    clock.advance(600_000);
    const late2 = await commit(id, r2.body.reservationId).expect(409);
    expect(late2.body.details.status).toBe('expired');
    expect((await summary(id)).remaining).toBe(100);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('is idempotent by key, and 404s for unknown reservations', async () => {
    const id = await createOrg('starter');
    const a = await reserve(id, { eventType: 'visuals_planning', idempotencyKey: 'job-1' }).expect(201);
    const b = await t.http().post(`/api/organizations/${id}/usage/reservations`).set(ADMIN).set('Idempotency-Key', 'job-1').send({ eventType: 'visuals_planning' }).expect(201);
    expect(b.body).toMatchObject({ reservationId: a.body.reservationId, duplicate: true });
    await reserve(id, { eventType: 'visuals_sketch', idempotencyKey: 'job-1' }).expect(409);
    expect((await ledgerState(t.dataSource, id)).reserved.n).toBe(1);
    await expectLedgerConsistent(t.dataSource, id);
    await commit(id, '00000000-0000-0000-0000-000000000000').expect(404);
    await commit(id, 'not-a-uuid').expect(404);
    await reserve(id, { eventType: 'visuals_planning', ttlSeconds: 0 }).expect(400);
    await reserve('nobody', { eventType: 'visuals_planning' }).expect(404);
  });

  it('with reservations in flight the period never exceeds what section 4 allows', async () => {
    const id = await createOrg(); // 100 credits, hard cap
    const attempts = await Promise.all(Array.from({ length: 60 }, () => reserve(id, { eventType: 'push_sow_to_loe' })));
    const held = attempts.filter((r) => r.status === 201);
    expect(held).toHaveLength(60);
    const tracked = await Promise.all(Array.from({ length: 60 }, () => t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).send({ eventType: 'push_sow_to_loe' })));
    expect(tracked.filter((r) => r.status === 201)).toHaveLength(40);
    // Commit half, release the other half, concurrently, each with a bigger or equal final price.
    const settled = await Promise.all(held.map((r, i) => (i % 2 ? release(id, r.body.reservationId) : commit(id, r.body.reservationId))));
    expect(settled.every((r) => r.status === 200)).toBe(true);
    const s = await summary(id);
    expect(s.used).toBe(70);
    expect(s.used).toBeLessThanOrEqual(100);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('a hold settled twice at once, or committed and released at once, is settled exactly once (the one-statement commit races the checked path)', async () => {
    const id = await createOrg('starter');
    for (let round = 0; round < 20; round++) {
      const r = await reserve(id, { eventType: 'visuals_planning' }).expect(201);
      // The first commit takes the one-statement path (this instance made the hold); the others race it on
      // the checked path, which reads the row under its lock.
      const answers = await Promise.all([commit(id, r.body.reservationId), commit(id, r.body.reservationId), round % 2 ? release(id, r.body.reservationId) : commit(id, r.body.reservationId)]);
      const ok = answers.filter((a) => a.status === 200);
      expect(ok).toHaveLength(1);
      expect(answers.filter((a) => a.status === 409)).toHaveLength(2);
    }
    const state = await ledgerState(t.dataSource, id);
    expect(state.reserved.n).toBe(0);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('a commit after the sweep expired the hold is 409 on the one-statement path too, and charges nothing', async () => {
    const id = await createOrg('starter');
    const r = await reserve(id, { eventType: 'visuals_planning', ttlSeconds: 60 }).expect(201);
    clock.advance(61_000);
    await t.app.get(ReservationsService).expireDue();
    const late = await commit(id, r.body.reservationId).expect(409);
    expect(late.body.details).toMatchObject({ status: 'expired' });
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(0);
    await expectLedgerConsistent(t.dataSource, id);
  });
});
