import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { AsyncUsageBuffer } from '../src/modules/tracking/async-usage-buffer.service';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startInstancePair } from './utils/test-app';
import type { InstancePair, TestApp } from './utils/test-app';
import { ON_POSTGRES } from './utils/test-database';
import { createOrg as newOrg } from './utils/factories';

/**
 * Issue 12, items 1, 2, 3, 4 (reconciliation side), 6 and 7: a hostile client against the ledger. Each test
 * failed on the code before the fix (noted per test) and checks the ledger invariants afterwards.
 * On PostgreSQL the races run across two app instances on one database; PGlite is one process.
 */
/** The fake clock, moving with real time while it runs: a race needs the instants its requests read to differ. */
class RunningClock extends FakeClock {
  private since: number | undefined;

  run(on: boolean): void {
    if (!on && this.since !== undefined) this.set(this.now());
    this.since = on ? performance.now() : undefined;
  }

  override now(): Date {
    const base = super.now();
    return this.since === undefined ? base : new Date(base.getTime() + Math.floor(performance.now() - this.since));
  }

  override set(to: Date | string): void {
    if (this.since !== undefined) this.since = performance.now();
    super.set(to);
  }
}

describe('ledger holes', () => {
  const clock = new RunningClock('2026-11-15T12:00:00.000Z');
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

  const createOrg = (plan: string, extra: Record<string, unknown> = {}): Promise<string> => newOrg(a, plan, { prefix: 'holes', ...extra });
  const track = (t: TestApp, org: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).set(headers).send(body);
  const balances = (org: string) =>
    a.dataSource.query(`SELECT period_start::text AS period, plan_name, allowance::text AS allowance, consumed::text AS consumed FROM period_balances WHERE organization_id = $1 ORDER BY 1`, [org]);

  describe('1. backdated events never open a fresh allowance', () => {
    it('refuses a period past its grace window with 422 PERIOD_CLOSED, whether or not the close job ran, on every path (failed before: 400 credits on a 100-credit cap)', async () => {
      clock.set('2026-11-15T12:00:00.000Z');
      const org = await createOrg('free');
      for (const occurredAt of ['2019-03-10T10:00:00.000Z', '2021-06-10T10:00:00.000Z', '2023-09-10T10:00:00.000Z', '2026-10-31T23:59:59.000Z']) {
        const single = await track(a, org, { eventType: 'push_sow_to_loe', occurredAt }).expect(422);
        expect(single.body).toMatchObject({ statusCode: 422, error: 'PERIOD_CLOSED' });
        const batch = await track(b, org, { events: Array.from({ length: 5 }, () => ({ eventType: 'push_sow_to_loe', occurredAt })) }).expect(200);
        expect(batch.body.results.every((r: { error?: { error: string } }) => r.error?.error === 'PERIOD_CLOSED')).toBe(true);
        await a.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).send({ eventType: 'push_sow_to_loe', occurredAt }).expect(422);
        const check = await a.http().post(`/api/organizations/${org}/usage/check`).set(ADMIN).send({ eventType: 'push_sow_to_loe', occurredAt });
        expect(check.status).toBe(422);
      }
      // The close job never ran, and nothing was written for any of those periods.
      expect(await a.dataSource.query(`SELECT * FROM period_closes`)).toEqual([]);
      expect(await balances(org)).toEqual([]);
      // The current period still takes its 100 credits, and not one more.
      const accepted = await track(a, org, { events: Array.from({ length: 101 }, () => ({ eventType: 'push_sow_to_loe' })) }).expect(200);
      expect(accepted.body.results.filter((r: { status: string }) => r.status === 'accepted')).toHaveLength(100);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('takes the previous period until its end plus the grace window, to the millisecond', async () => {
      clock.set('2026-11-30T23:00:00.000Z');
      const org = await createOrg('starter');
      const november = { eventType: 'push_sow_to_loe', occurredAt: '2026-11-30T23:59:00.000Z' };
      clock.set('2026-12-01T00:59:59.999Z'); // PERIOD_CLOSE_GRACE_MINUTES = 60: the last instant of the grace
      await track(a, org, november).expect(201);
      clock.set('2026-12-01T01:00:00.000Z');
      await track(b, org, november).expect(422);
      expect((await ledgerState(a.dataSource, org)).events.n).toBe(1);
    });

    it('the debit decides by the time it is given, not by the early check (no instance clock opens it)', async () => {
      clock.set('2026-11-15T12:00:00.000Z');
      const org = await createOrg('free');
      // As a racing transaction would: the SQL function directly, with the injected time and grace.
      const [r] = await a.dataSource.query(`SELECT status FROM consume_credits($1, '2026-10-01'::date, 1, NULL, $2, 60)`, [org, clock.now()]);
      expect(r.status).toBe('PERIOD_CLOSED');
      const [ok] = await a.dataSource.query(`SELECT status FROM consume_credits($1, '2026-10-01'::date, 1, NULL, '2026-11-01T00:30:00Z', 60)`, [org]);
      expect(ok.status).toBe('OK');
      await a.dataSource.query(`DELETE FROM period_balances WHERE organization_id = $1`, [org]);
    });

    it('an asynchronous event written after its period closed is kept as refused, not charged to the next period', async () => {
      clock.set('2026-11-30T23:58:00.000Z');
      const org = await createOrg('starter');
      const buffer = a.app.get(AsyncUsageBuffer);
      await buffer.flush();
      await a.http().post('/api/push/sow-to-loe').set(ADMIN).set('X-Organization-Id', org).send({}).expect(200);
      clock.set('2026-12-01T01:30:00.000Z'); // the service was down through the grace window
      await buffer.flush();
      expect((await ledgerState(a.dataSource, org)).events.n).toBe(0);
      const refused = await a.dataSource.query(`SELECT error, occurred_at FROM refused_events WHERE organization_id = $1`, [org]);
      expect(refused).toEqual([{ error: 'PERIOD_CLOSED', occurred_at: new Date('2026-11-30T23:58:00.000Z') }]);
    });
  });

  describe('2 and 3. a period\'s plan is decided in the debit', () => {
    it('a plan change "now" committed before a period row is created governs that row, whatever the creating debit\'s own time (failed before: free, 100 credits)', async () => {
      clock.set('2026-11-15T12:00:00.000Z');
      const org = await createOrg('free');
      await b.http().put(`/api/admin/organizations/${org}/plan`).set(ADMIN).send({ plan: 'professional' }).expect(200);
      // As a debit whose `now` was read a moment before the change but whose transaction came after it (it
      // waited in a group-commit lane, or on the organization row lock the change held): the SQL directly.
      const [r] = await a.dataSource.query(`SELECT status, plan_name, allowance::text AS allowance FROM consume_credits($1, '2026-11-01'::date, 1, NULL, $2, 60)`, [org, new Date(clock.now().getTime() - 265)]);
      expect(r).toEqual({ status: 'OK', plan_name: 'professional', allowance: '5000.00' });
      // That debit recorded no event: give its credit back, so the ledger holds only what was tracked.
      await a.dataSource.query(`SELECT refund_credits($1, '2026-11-01'::date, 1, 0, 0, 0, '[]'::jsonb, NULL, $2)`, [org, clock.now()]);
      const after = await track(a, org, { eventType: 'push_sow_to_loe' }).expect(201);
      expect(after.body.remainingCredits).toBe(4999);
      expect(await balances(org)).toEqual([{ period: '2026-11-01', plan_name: 'professional', allowance: '5000.00', consumed: '1.000000' }]);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it(`a plan change "now" racing the period's first events: every event debited after it commits has the new allowance (${ON_POSTGRES ? 'two instances, ' : ''}many organizations, events on both sides; failed before: 12 of 120 organizations kept the old allowance)`, async () => {
      clock.set('2026-11-15T12:00:00.000Z');
      // Real instants for the race: the change and the events each read the time when they start, as in
      // production, so an event can hold an earlier time than a change that commits before its debit.
      clock.run(true);
      try {
        const organizations = ON_POSTGRES ? 120 : 24;
        const atOnce = ON_POSTGRES ? 12 : 6;
        const wrong: string[] = [];
        const later = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
        const race = async (n: number) => {
          const org = await createOrg('free');
          const on = (i: number) => ((i + n) % 2 === 0 ? a : b);
          const event = (i: number) => track(on(i), org, { eventType: 'push_sow_to_loe' });
          // Events started before the change, with it, and just after it was sent (all racing its commit) ...
          const racing = Array.from({ length: 8 }, (_, i) => later(i % 4).then(() => event(i)));
          const change = await later(1 + (n % 3)).then(() => on(n + 1).http().put(`/api/admin/organizations/${org}/plan`).set(ADMIN).send({ plan: 'professional' }));
          expect(change.status).toBe(200);
          // ... and events sent once the change has answered: debited after it committed, so on the new plan.
          const after = await Promise.all(Array.from({ length: 4 }, (_, i) => event(i)));
          const early = await Promise.all(racing);
          expect([...early, ...after].map((r) => r.status)).toEqual(Array(12).fill(201));
          for (const r of after) if (r.body.remainingCredits <= 100) wrong.push(`${org}: an event after the change has ${r.body.remainingCredits} credits remaining`);
          const [row] = await balances(org);
          if (row.plan_name !== 'professional' || row.allowance !== '5000.00') wrong.push(`${org}: the period row has ${row.plan_name} ${row.allowance}`);
          await expectLedgerConsistent(a.dataSource, org);
        };
        for (let first = 0; first < organizations; first += atOnce) {
          await Promise.all(Array.from({ length: atOnce }, (_, i) => race(first + i)));
        }
        expect(wrong).toEqual([]);
      } finally {
        clock.run(false);
      }
    });

    it('next month\'s balance row is born with the pending plan, even for an event a few seconds ahead (failed before: 4,999 January events on free)', async () => {
      clock.set('2026-11-20T10:00:00.000Z');
      const org = await createOrg('professional');
      await b.http().put(`/api/admin/organizations/${org}/plan`).set(ADMIN).send({ plan: 'free', effective: 'next_period' }).expect(200);
      clock.set('2026-11-30T23:59:50.000Z');
      const ahead = { eventType: 'push_sow_to_loe', occurredAt: '2026-12-01T00:00:30.000Z' };
      const res = await track(a, org, { events: Array.from({ length: 150 }, () => ahead) }).expect(200);
      expect(res.body.results.filter((r: { status: string }) => r.status === 'accepted')).toHaveLength(100);
      expect(await balances(org)).toEqual([{ period: '2026-12-01', plan_name: 'free', allowance: '100.00', consumed: '100.000000' }]);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('a next-period change made after a future-dated event created next month\'s row still governs that row', async () => {
      clock.set('2026-11-30T23:58:00.000Z');
      const org = await createOrg('professional');
      await track(a, org, { eventType: 'push_sow_to_loe', occurredAt: '2026-12-01T00:01:00.000Z' }).expect(201);
      await b.http().put(`/api/admin/organizations/${org}/plan`).set(ADMIN).send({ plan: 'starter', effective: 'next_period' }).expect(200);
      expect(await balances(org)).toEqual([{ period: '2026-12-01', plan_name: 'starter', allowance: '1000.00', consumed: '1.000000' }]);
    });
  });

  describe('6. one idempotency key, one charge, across tracking and @TrackUsage', () => {
    it('a key spent on POST …/usage/events cannot charge again on a @TrackUsage route, nor the other way round (failed before: two charges)', async () => {
      clock.set('2026-11-15T12:00:00.000Z');
      const org = await createOrg('starter');
      await track(a, org, { eventType: 'visuals_planning' }, { 'Idempotency-Key': 'shared-1' }).expect(201);
      const again = await b.http().post('/api/visuals/planning').set(ADMIN).set('X-Organization-Id', org).set('Idempotency-Key', 'shared-1').send({});
      expect(again.status).toBe(409);
      expect(again.body.error).toBe('IDEMPOTENCY_CONFLICT');

      await b.http().post('/api/visuals/planning').set(ADMIN).set('X-Organization-Id', org).set('Idempotency-Key', 'shared-2').send({}).expect(200);
      const back = await track(a, org, { eventType: 'visuals_planning' }, { 'Idempotency-Key': 'shared-2' });
      expect(back.status).toBe(409);
      // A reservation's key likewise.
      await a.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).set('Idempotency-Key', 'shared-3').send({ eventType: 'visuals_planning' }).expect(201);
      await track(b, org, { events: [{ eventType: 'visuals_planning', idempotencyKey: 'shared-3' }] }).expect(200);
      const state = await ledgerState(a.dataSource, org);
      expect(Number(state.balances.consumed)).toBe(8 * 3);
      expect(state.events.n + state.reserved.n).toBe(3);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('a released reservation frees its key for a new attempt; a committed one keeps it', async () => {
      clock.set('2026-11-15T12:00:00.000Z');
      const org = await createOrg('starter');
      const first = await a.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).set('Idempotency-Key', 'res-1').send({ eventType: 'visuals_planning' }).expect(201);
      await a.http().post(`/api/organizations/${org}/usage/reservations/${first.body.reservationId}/release`).set(ADMIN).send({}).expect(200);
      const second = await b.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).set('Idempotency-Key', 'res-1').send({ eventType: 'visuals_planning' }).expect(201);
      expect(second.body.duplicate).toBe(false);
      await b.http().post(`/api/organizations/${org}/usage/reservations/${second.body.reservationId}/commit`).set(ADMIN).send({}).expect(200);
      const replay = await a.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).set('Idempotency-Key', 'res-1').send({ eventType: 'visuals_planning' }).expect(201);
      expect(replay.body).toMatchObject({ duplicate: true, reservationId: second.body.reservationId, status: 'committed' });
      await track(a, org, { eventType: 'visuals_planning' }, { 'Idempotency-Key': 'res-1' }).expect(409);
      expect(Number((await ledgerState(a.dataSource, org)).balances.consumed)).toBe(8);
      await expectLedgerConsistent(a.dataSource, org);
    });
  });

  describe('7. consumed money keeps its price', () => {
    /** `credits` one-credit events, all accepted. */
    async function spend(org: string, credits: number): Promise<void> {
      for (let left = credits; left > 0; left -= 1000) {
        const res = await track(a, org, { events: Array.from({ length: Math.min(left, 1000) }, () => ({ eventType: 'push_sow_to_loe' })) }).expect(200);
        expect(res.body.results.every((r: { status: string }) => r.status === 'accepted')).toBe(true);
      }
    }

    it('a downgrade "now" keeps the overage consumed before it on the invoice, which lists both plans (failed before: $0)', async () => {
      clock.set('2026-11-10T08:00:00.000Z');
      const org = await createOrg('starter');
      // 1,000 allowance + 50 overage at $0.02 = $1.00.
      await spend(org, 1050);
      const before = await a.http().get(`/api/organizations/${org}/usage/invoice`).set(ADMIN).expect(200);
      expect(before.body).toMatchObject({ plan: 'starter', overageCredits: 50, overageCost: 1, total: 20 });
      clock.set('2026-11-20T08:00:00.000Z');
      await b.http().put(`/api/admin/organizations/${org}/plan`).set(ADMIN).send({ plan: 'free' }).expect(200);
      const after = await a.http().get(`/api/organizations/${org}/usage/invoice`).set(ADMIN).expect(200);
      expect(after.body).toMatchObject({
        plan: 'free',
        overageCredits: 50,
        overageCost: 1,
        total: 1,
        plans: [
          { plan: 'starter', from: '2026-11-01T00:00:00.000Z' },
          { plan: 'free', from: '2026-11-20T08:00:00.000Z' },
        ],
      });
      const summary = await a.http().get(`/api/organizations/${org}/usage`).set(ADMIN).expect(200);
      expect(summary.body.overage).toMatchObject({ credits: 50, cost: 1 });
      // The reconciliation does not call overage consumed on starter "not permitted" on free.
      const run = await a.http().post('/api/admin/jobs/ledger-reconciliation/run').set(ADMIN).send({}).expect(200);
      expect(run.body.status).toBe('succeeded');
      const alerts = await a.http().get('/api/admin/jobs/alerts').set(ADMIN).expect(200);
      const mine = (alerts.body.items as Array<{ organizationId: string; kind: string; status: string }>).filter((x) => x.organizationId === org && x.status === 'open');
      expect(mine.filter((x) => x.kind !== 'allowance_exceeded')).toEqual([]);
      await expectLedgerConsistent(a.dataSource, org, { downgradedBelowUse: true });
    });

    it('the spend cap counts the money recorded, at the rate of its time (failed before: a rate cut let the cap be passed)', async () => {
      clock.set('2026-11-10T08:00:00.000Z');
      const plan = `cap_plan_${Math.random().toString(36).slice(2, 7)}`;
      const { version: _v, createdAt: _c, updatedAt: _u, ...starter } = (await a.http().get('/api/admin/plans/starter').set(ADMIN).expect(200)).body;
      const created = await a.http().post('/api/admin/plans').set(ADMIN).send({ ...starter, name: plan, displayName: 'Cap test', overageRate: 0.02 });
      expect(created.body).toMatchObject({ name: plan });
      const org = await createOrg(plan, { spendCap: 1 });
      await spend(org, 1050); // $1.00 of overage: the cap
      await a.http().patch(`/api/admin/plans/${plan}`).set(ADMIN).send({ overageRate: 0.01 }).expect(200);
      const over = await track(b, org, { eventType: 'push_sow_to_loe' }).expect(402);
      expect(over.body.error).toBe('CREDITS_EXHAUSTED');
      const [row] = await a.dataSource.query(`SELECT overage_cost::numeric::text AS cost FROM period_balances WHERE organization_id = $1`, [org]);
      expect(Number(row.cost)).toBe(1);
      await expectLedgerConsistent(a.dataSource, org);
    });
  });
});
