import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { LedgerRepository } from '../src/modules/ledger/ledger.repository';
import { ReservationsService } from '../src/modules/usage/reservations.service';
import { UsageTracker } from '../src/modules/usage/usage-tracker.service';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startInstancePair } from './utils/test-app';
import type { InstancePair, TestApp } from './utils/test-app';

/**
 * Issue 13, item 2: single events of many organizations share group-commit transactions (before, each
 * organization had its own group, so load spread over organizations paid one transaction per event).
 */
/** Resolves once `done()` holds, checking after each turn of the event loop (no timers). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('group commit across organizations', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let a: TestApp;
  let b: TestApp;
  let pair: InstancePair | undefined;
  let seq = 0;

  beforeAll(async () => {
    pair = await startInstancePair({ clock });
    ({ a, b } = pair);
  });
  afterAll(async () => {
    await pair?.close();
  });

  async function createOrgs(n: number, plan: string): Promise<string[]> {
    const ids = Array.from({ length: n }, () => `gc-${++seq}-${Math.random().toString(36).slice(2, 7)}`);
    for (const id of ids) await a.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: id, plan }).expect(201);
    return ids;
  }
  const track = (t: TestApp, org: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).set(headers).send(body);

  it('60 concurrent single events of 30 organizations take 4 transactions at most, 2 lanes (took 60 before)', async () => {
    const orgs = await createOrgs(30, 'enterprise');
    // Warm the caches (organization, definitions, partition) so the count is the tracking path's alone.
    await Promise.all(orgs.map((org) => track(a, org, { eventType: 'push_sow_to_loe' }).expect(201)));
    const ledger = a.app.get(LedgerRepository);
    // Deterministic grouping: transactions wait until all 60 requests have been handed to the tracker.
    const submitted = jest.spyOn(a.app.get(UsageTracker), 'track');
    const transaction = ledger.transaction.bind(ledger);
    const transactions = jest.spyOn(ledger, 'transaction').mockImplementation(async (work) => {
      await until(() => submitted.mock.calls.length >= 60);
      return transaction(work);
    });
    try {
      const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => track(a, orgs[i % 30], { eventType: 'push_sow_to_loe', userId: `u${i % 3}` })));
      expect(answers.map((r) => r.status)).toEqual(Array(60).fill(201));
      // Each lane (2) runs its first event alone, then everything that queued meanwhile in one transaction.
      expect(transactions.mock.calls.length).toBeLessThanOrEqual(4);
    } finally {
      transactions.mockRestore();
      submitted.mockRestore();
    }
    for (const org of orgs) {
      expect((await ledgerState(a.dataSource, org)).events.n).toBe(3);
      await expectLedgerConsistent(a.dataSource, org);
    }
  });

  it('hard caps hold when many organizations share transactions, on two instances (10 rounds, nobody past the allowance)', async () => {
    const orgs = await createOrgs(12, 'free');
    const accepted = new Map<string, number>();
    let refused = 0;
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(
        orgs.flatMap((org, o) => Array.from({ length: 4 }, (_, i) => track((o + i) % 2 === 0 ? a : b, org, { eventType: 'structuring_diagnose', eventData: { complexity: 2 } }).then((r) => ({ org, r })))),
      );
      for (const { org, r } of answers) {
        if (r.status === 201) accepted.set(org, (accepted.get(org) ?? 0) + Number(r.body.creditsConsumed));
        else {
          expect(r.status).toBe(402);
          expect(r.body.error).toMatch(/CREDITS_EXHAUSTED|LIMIT_EXCEEDED/);
          refused++;
        }
      }
    }
    expect(refused).toBeGreaterThan(0);
    for (const org of orgs) {
      const state = await ledgerState(a.dataSource, org);
      // The free plan has no overage: 100 credits at most, and exactly what the accepted answers said.
      expect(Number(state.balances.consumed)).toBeLessThanOrEqual(100);
      expect(Number(state.balances.consumed)).toBe(accepted.get(org) ?? 0);
      await expectLedgerConsistent(a.dataSource, org);
    }
  });

  it('in a shared group, an unknown organization fails alone (404) and a key is per organization (the same key in two is two events)', async () => {
    const [x, y] = await createOrgs(2, 'enterprise');
    const answers = await Promise.all([
      track(a, x, { eventType: 'push_sow_to_loe' }, { 'Idempotency-Key': 'shared-key' }),
      track(a, y, { eventType: 'push_sow_to_loe' }, { 'Idempotency-Key': 'shared-key' }),
      track(a, 'gc-nobody-here', { eventType: 'push_sow_to_loe' }),
      track(a, x, { eventType: 'push_sow_to_loe' }),
      track(a, y, { eventType: 'push_sow_to_loe' }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([201, 201, 404, 201, 201]);
    expect(answers[0].body.eventId).not.toBe(answers[1].body.eventId);
    expect(answers[2].body.error).toBe('ORGANIZATION_NOT_FOUND');
    for (const org of [x, y]) {
      const state = await ledgerState(a.dataSource, org);
      expect(state.events.n).toBe(2);
      expect(state.keys).toBe(1);
      await expectLedgerConsistent(a.dataSource, org);
    }
  });

  it('a key repeated by concurrent requests of one organization, among other organizations\' events, charges once (5 rounds)', async () => {
    const orgs = await createOrgs(4, 'enterprise');
    for (let round = 0; round < 5; round++) {
      const key = `retry-${round}`;
      const answers = await Promise.all([
        ...Array.from({ length: 3 }, () => track(a, orgs[0], { eventType: 'push_sow_to_loe' }, { 'Idempotency-Key': key })),
        ...orgs.map((org) => track(a, org, { eventType: 'push_sow_to_loe' })),
      ]);
      expect(answers.map((r) => r.status)).toEqual(Array(7).fill(201));
      const replies = answers.slice(0, 3).map((r) => r.body);
      expect(new Set(replies.map((r) => r.eventId)).size).toBe(1);
      expect(replies.filter((r) => r.duplicate === false)).toHaveLength(1);
    }
    expect((await ledgerState(a.dataSource, orgs[0])).events.n).toBe(10);
    for (const org of orgs) await expectLedgerConsistent(a.dataSource, org);
  });

  describe('@TrackUsage holds and commits (item 3)', () => {
    const call = (t: TestApp, org: string, headers: Record<string, string> = {}) =>
      t.http().post('/api/structuring/diagnose').set(ADMIN).set('X-Organization-Id', org).set(headers).send({ complexity: 2 });

    it('40 concurrent tracked requests of 20 organizations share their hold and commit statements (were one transaction each)', async () => {
      const orgs = await createOrgs(20, 'enterprise');
      await Promise.all(orgs.map((org) => call(a, org).expect(200)));
      const ledger = a.app.get(LedgerRepository);
      const service = a.app.get(ReservationsService);
      // Deterministic grouping: the ledger's statements wait until all 40 requests have asked for their hold
      // (then their commit), so whatever the machine's speed the later ones queue behind a lane's first run.
      const asked = jest.spyOn(service, 'reserve');
      const committing = jest.spyOn(service, 'commit');
      const reserveMany = ledger.reserveMany.bind(ledger);
      const settleHolds = ledger.settleHolds.bind(ledger);
      const reserves = jest.spyOn(ledger, 'reserveMany').mockImplementation(async (...args) => {
        await until(() => asked.mock.calls.length >= 40);
        return reserveMany(...args);
      });
      const settles = jest.spyOn(ledger, 'settleHolds').mockImplementation(async (...args) => {
        await until(() => committing.mock.calls.length >= 40);
        return settleHolds(...args);
      });
      try {
        const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => call(a, orgs[i % 20])));
        expect(answers.map((r) => r.status)).toEqual(Array(40).fill(200));
        // Each lane (2) runs its first request alone, then everything that queued meanwhile at once.
        expect(reserves.mock.calls.length).toBeLessThanOrEqual(4);
        expect(settles.mock.calls.length).toBeLessThanOrEqual(4);
        expect(settles.mock.calls.flatMap((c) => c[0]).length).toBe(40);
      } finally {
        for (const spy of [asked, committing, reserves, settles]) spy.mockRestore();
      }
      for (const org of orgs) {
        const state = await ledgerState(a.dataSource, org);
        expect(state.events.n).toBe(3);
        expect(state.reserved.n).toBe(0);
        await expectLedgerConsistent(a.dataSource, org);
      }
    });

    it('hard caps hold for grouped holds on two instances, and a key sent twice at once is one hold and one charge (8 rounds)', async () => {
      const orgs = await createOrgs(8, 'free');
      let ok = 0;
      let refused = 0;
      for (let round = 0; round < 8; round++) {
        const plain = orgs.flatMap((org, o) => Array.from({ length: 2 }, (_, i) => call((o + i) % 2 === 0 ? a : b, org)));
        const twice = orgs.flatMap((org) => [call(a, org, { 'Idempotency-Key': `twice-${round}` }), call(a, org, { 'Idempotency-Key': `twice-${round}` })]);
        const [answers, keyed] = await Promise.all([Promise.all(plain), Promise.all(twice)]);
        for (const r of [...answers, ...keyed]) {
          if (r.status === 200) ok++;
          else if (r.status === 409) {
            // The copy of a keyed request that arrived while the first still ran: never a second run.
            expect(keyed).toContain(r);
            expect(r.body.error).toBe('IDEMPOTENCY_IN_PROGRESS');
          } else {
            expect(r.status).toBe(402);
            refused++;
          }
        }
      }
      expect(ok).toBeGreaterThan(0);
      expect(refused).toBeGreaterThan(0);
      for (const org of orgs) {
        const state = await ledgerState(a.dataSource, org);
        expect(Number(state.balances.consumed)).toBeLessThanOrEqual(100);
        expect(state.reserved.n).toBe(0);
        // One charge per key: no key names two events.
        const [dupes] = await a.dataSource.query(
          `SELECT count(*)::int AS n FROM (SELECT idempotency_key FROM usage_events WHERE organization_id = $1 AND idempotency_key IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d`,
          [org],
        );
        expect(dupes.n).toBe(0);
        await expectLedgerConsistent(a.dataSource, org);
      }
    });
  });
});
