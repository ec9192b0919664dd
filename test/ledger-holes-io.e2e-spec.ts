import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';
import { createOrg as newOrg } from './utils/factories';

/** Issue 12, items 5, 9 and 11: bad idempotency headers, a poisoned group commit, the demo route, long holds. */
describe('ledger holes at the edge', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  const createOrg = (plan = 'starter'): Promise<string> => newOrg(t, plan, { prefix: 'edge' });
  const track = (org: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).set(headers).send(body);

  describe('5. the Idempotency-Key header is held to the body field\'s rule', () => {
    it('an over-long or unprintable header is 400 VALIDATION_FAILED on every route that reads it, and writes nothing (failed before: 500)', async () => {
      const org = await createOrg();
      for (const bad of ['k'.repeat(3000), 'has space', 'tab\tkey']) {
        const headers = { 'Idempotency-Key': bad };
        const answers = await Promise.all([
          track(org, { eventType: 'visuals_planning' }, headers),
          track(org, { events: [{ eventType: 'visuals_planning' }] }, headers),
          t.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).set(headers).send({ eventType: 'visuals_planning' }),
          t.http().post('/api/visuals/planning').set(ADMIN).set('X-Organization-Id', org).set(headers).send({}),
          t.http().post('/api/demo/track-usage').set(ADMIN).set(headers).send({ organizationId: org, eventType: 'visuals_planning' }),
        ]);
        for (const a of answers) {
          expect(a.status).toBe(400);
          expect(a.body).toMatchObject({ error: 'VALIDATION_FAILED', details: { fields: { 'Idempotency-Key': [expect.any(String)] } } });
        }
      }
      const state = await ledgerState(t.dataSource, org);
      expect(state.events.n + state.reserved.n + state.keys).toBe(0);
    });

    it('a request that fails inside a shared group-commit transaction fails alone (failed before: most of its neighbours got 500)', async () => {
      const org = await createOrg('enterprise');
      // A database failure of one event only, at insert time: what an unforeseen bad row would do.
      await t.dataSource.query(`CREATE OR REPLACE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.user_id = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$`);
      await t.dataSource.query(`CREATE TRIGGER test_poison BEFORE INSERT ON usage_events FOR EACH ROW EXECUTE FUNCTION test_poison()`);
      try {
        for (let round = 0; round < 5; round++) {
          const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => track(org, { eventType: 'push_sow_to_loe', userId: i === 20 ? 'poison' : `u${i % 4}` })));
          expect(answers.filter((a) => a.status === 201)).toHaveLength(39);
          expect(answers[20].status).toBe(500);
        }
        expect((await ledgerState(t.dataSource, org)).events.n).toBe(5 * 39);
        await expectLedgerConsistent(t.dataSource, org);
      } finally {
        await t.dataSource.query(`DROP TRIGGER test_poison ON usage_events`);
      }
    });
  });

  describe('9. the seed-compatible demo route goes the organization route\'s way', () => {
    it('honours Idempotency-Key (one charge for one key) and refuses eventData over 16 KiB with 413 (failed before: two charges, 201)', async () => {
      const org = await createOrg();
      const body = { organizationId: org, eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true } };
      const first = await t.http().post('/api/demo/track-usage').set(ADMIN).set('Idempotency-Key', 'demo-1').send(body).expect(201);
      const again = await t.http().post('/api/demo/track-usage').set(ADMIN).set('Idempotency-Key', 'demo-1').send(body).expect(201);
      expect(again.body).toMatchObject({ duplicate: true, eventId: first.body.eventId, creditsConsumed: 25 });
      // The same namespace as the organization route.
      await track(org, { eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true } }, { 'Idempotency-Key': 'demo-1' }).expect(201);
      expect(Number((await ledgerState(t.dataSource, org)).balances.consumed)).toBe(25);
      const big = await t.http().post('/api/demo/track-usage').set(ADMIN).send({ organizationId: org, eventType: 'visuals_planning', eventData: { blob: 'x'.repeat(20_000) } }).expect(413);
      expect(big.body.error).toBe('PAYLOAD_TOO_LARGE');
      await t.http().post('/api/demo/track-usage').set(ADMIN).send({ organizationId: 'not an id', eventType: 'visuals_planning' }).expect(400);
      await expectLedgerConsistent(t.dataSource, org);
    });
  });

  describe('11. reservation holds never outlive the grace window', () => {
    it('a ttlSeconds past PERIOD_CLOSE_GRACE_MINUTES is 400; the grace window itself and the default fit (failed before: a 24-hour hold)', async () => {
      const org = await createOrg();
      const reserve = (body: Record<string, unknown>) => t.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).send({ eventType: 'visuals_planning', ...body });
      const long = await reserve({ ttlSeconds: 86_400 }).expect(400);
      expect(long.body.details.fields.ttlSeconds[0]).toContain('3600');
      await reserve({ ttlSeconds: 3601 }).expect(400);
      const edge = await reserve({ ttlSeconds: 3600 }).expect(201);
      expect(edge.body.expiresAt).toBe('2026-11-15T13:00:00.000Z');
      const byDefault = await reserve({}).expect(201);
      expect(byDefault.body.expiresAt).toBe('2026-11-15T12:10:00.000Z');
      expect((await ledgerState(t.dataSource, org)).reserved.n).toBe(2);
    });
  });
});
