import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { AsyncUsageBuffer } from '../src/modules/tracking/async-usage-buffer.service';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';
import { createTestDatabase, ON_POSTGRES } from './utils/test-database';
import type { TestDatabase } from './utils/test-database';

/**
 * A repeated Idempotency-Key never buys a second run of metered work: a replay of a completed request gets
 * the first answer back (from the database, so from either instance), a duplicate of a running one 409
 * IDEMPOTENCY_IN_PROGRESS, an answer too large to keep 409 IDEMPOTENCY_REPLAYED with the charge; an
 * asynchronous retry is a duplicate, never a refused conflict. Two instances on one PostgreSQL (on PGlite,
 * one process's database, the second instance is the first).
 */
describe('idempotent replay of metered routes', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let seq = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startTestApp({ database, clock, config: { asyncFlushIntervalMs: 60_000 } });
    b = ON_POSTGRES ? await startTestApp({ database, clock, config: { asyncFlushIntervalMs: 60_000 } }) : a;
  });
  afterAll(async () => {
    if (b && b !== a) await b.close();
    await a?.close();
    await database?.drop();
  });

  async function createOrg(plan = 'free'): Promise<string> {
    const id = `idem-${++seq}-${Math.random().toString(36).slice(2, 7)}`;
    await a.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: id, plan }).expect(201);
    return id;
  }
  const call = (t: TestApp, path: string, org: string, key: string, body: Record<string, unknown> = {}) =>
    t.http().post(path).set(ADMIN).set('X-Organization-Id', org).set('Idempotency-Key', key).send(body);

  describe('asynchronous routes', () => {
    it('four retries of one request under one key, arriving apart: one event, no refusal, no conflict', async () => {
      const org = await createOrg('enterprise');
      for (let round = 0; round < 4; round++) {
        // Each arrival is stamped with its own time: the stamp is the server's, not part of the request.
        clock.advance(7);
        await call(round % 2 === 0 ? a : b, '/api/push/sow-to-loe', org, 'push-retry-1').expect(200);
        if (round === 1) await a.app.get(AsyncUsageBuffer).flush();
      }
      await a.app.get(AsyncUsageBuffer).flush();
      await b.app.get(AsyncUsageBuffer).flush();
      const refused = await a.dataSource.query(`SELECT error FROM refused_events WHERE organization_id = $1`, [org]);
      expect(refused).toEqual([]);
      const notes = await a.dataSource.query(`SELECT type FROM notifications WHERE organization_id = $1 AND type LIKE '%refus%'`, [org]);
      expect(notes).toEqual([]);
      expect((await ledgerState(a.dataSource, org)).events.n).toBe(1);
      await expectLedgerConsistent(a.dataSource, org);
    });
  });
});
