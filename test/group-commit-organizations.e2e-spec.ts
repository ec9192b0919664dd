import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { LedgerRepository } from '../src/modules/usage/ledger.repository';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';
import { createTestDatabase, ON_POSTGRES } from './utils/test-database';
import type { TestDatabase } from './utils/test-database';

/**
 * Issue 13, item 2: single events of many organizations share group-commit transactions (before, each
 * organization had its own group, so load spread over organizations paid one transaction per event).
 */
describe('group commit across organizations', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let seq = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startTestApp({ database, clock });
    // Two instances on one PostgreSQL; PGlite is one process's database, so there the second is the first.
    b = ON_POSTGRES ? await startTestApp({ database, clock }) : a;
  });
  afterAll(async () => {
    if (b && b !== a) await b.close();
    await a?.close();
    await database?.drop();
  });

  async function createOrgs(n: number, plan: string): Promise<string[]> {
    const ids = Array.from({ length: n }, () => `gc-${++seq}-${Math.random().toString(36).slice(2, 7)}`);
    for (const id of ids) await a.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: id, plan }).expect(201);
    return ids;
  }
  const track = (t: TestApp, org: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).set(headers).send(body);

  it('60 concurrent single events of 30 organizations take far fewer than 30 transactions (took one per organization at least before)', async () => {
    const orgs = await createOrgs(30, 'enterprise');
    // Warm the caches (organization, definitions, partition) so the count is the tracking path's alone.
    await Promise.all(orgs.map((org) => track(a, org, { eventType: 'push_sow_to_loe' }).expect(201)));
    const ledger = a.app.get(LedgerRepository);
    const transactions = jest.spyOn(ledger, 'transaction');
    try {
      const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => track(a, orgs[i % 30], { eventType: 'push_sow_to_loe', userId: `u${i % 3}` })));
      expect(answers.map((r) => r.status)).toEqual(Array(60).fill(201));
      expect(transactions.mock.calls.length).toBeLessThan(15);
    } finally {
      transactions.mockRestore();
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
});
