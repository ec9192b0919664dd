import { beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { loadConfig } from '../src/config/app-config';
import { openDataSource } from '../src/database/open-data-source';
import { expectLedgerConsistent } from './utils/ledger-checks';
import { buildService, startService } from './utils/service-process';
import type { ServiceProcess } from './utils/service-process';
import { ADMIN, ADMIN_KEY } from './utils/test-app';
import { createTestDatabase, ON_POSTGRES } from './utils/test-database';

/**
 * Nothing lost: two service processes on one PostgreSQL take asynchronous events from both paths (the async
 * `@TrackUsage` route, one event a call, and asynchronous batches), each event with its own idempotency key;
 * one process is killed with SIGKILL a third of the way through, mid-stream, and started again. Every event
 * answered 200/202 is then in the ledger exactly once, accepted or kept as refused, and every balance
 * equals its ledger. (The embedded database is one process: there is no second instance to share it.)
 */
(ON_POSTGRES ? describe : describe.skip)('ingestion under SIGKILL, two instances on one PostgreSQL', () => {
  beforeAll(() => buildService(), 180_000);

  it('every acknowledged asynchronous event is in the ledger exactly once', async () => {
    const database = await createTestDatabase();
    const env = { DATABASE_URL: database.url, ADMIN_API_KEY: ADMIN_KEY, JOBS_ENABLED: 'false', ASYNC_BATCH_SIZE: '500', ASYNC_FLUSH_INTERVAL_MS: '50' };
    let a: ServiceProcess | undefined;
    let b: ServiceProcess | undefined;
    let ds: DataSource | undefined;
    try {
      [a, b] = await Promise.all([startService(env), startService(env)]);
      const orgs = ['kill-a', 'kill-b', 'kill-c'];
      for (const id of orgs) {
        const res = await fetch(`${a.baseUrl}/api/admin/organizations`, { method: 'POST', headers: { 'content-type': 'application/json', ...ADMIN }, body: JSON.stringify({ id, name: id, plan: id === 'kill-c' ? 'free' : 'enterprise' }) });
        expect(res.status).toBe(201);
      }
      const acknowledged: string[] = [];
      let sent = 0;
      let killed = false;
      const CALLS = 900;
      let restartedA: Promise<ServiceProcess> | undefined;
      const portA = Number(new URL(a.baseUrl).port);
      const target = (i: number) => (i % 2 === 0 ? (killed ? b! : a!) : b!);
      const worker = async (w: number) => {
        for (;;) {
          const i = sent++;
          if (i >= CALLS) return;
          if (!killed && i >= CALLS / 3) {
            killed = true;
            a!.child.kill('SIGKILL');
            restartedA = a!.exited.then(() => startService(env, portA));
          }
          const org = orgs[i % orgs.length];
          const service = target(i + w);
          try {
            if (i % 10 === 0) {
              const keys = Array.from({ length: 20 }, (_, j) => `b-${i}-${j}`);
              const res = await fetch(`${service.baseUrl}/api/organizations/${org}/usage/events`, {
                method: 'POST',
                headers: { 'content-type': 'application/json', prefer: 'respond-async', ...ADMIN },
                body: JSON.stringify({ events: keys.map((k) => ({ eventType: 'push_sow_to_loe', idempotencyKey: k })) }),
                signal: AbortSignal.timeout(10_000),
              });
              if (res.status === 202) acknowledged.push(...keys);
            } else {
              const key = `s-${i}`;
              const res = await fetch(`${service.baseUrl}/api/push/sow-to-loe`, {
                method: 'POST',
                headers: { 'content-type': 'application/json', 'x-organization-id': org, 'idempotency-key': key, ...ADMIN },
                body: JSON.stringify({ n: i }),
                signal: AbortSignal.timeout(10_000),
              });
              if (res.status === 200) acknowledged.push(key);
            }
          } catch {
            // The killed instance: no answer, so nothing was promised.
          }
        }
      };
      await Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
      a = await restartedA!;
      expect(acknowledged.length).toBeGreaterThan(CALLS);
      // Both instances drain; wait until the queue is empty.
      ds = await openDataSource({ ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), databaseUrl: database.url });
      const deadline = Date.now() + 60_000;
      for (;;) {
        const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM ingest_queue`);
        if (n === 0) break;
        if (Date.now() > deadline) throw new Error(`${n} events still waiting`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // The queue's totals (what its lag and bounds read) went with every transaction that committed, and
      // with none that the kill cut short: empty queue, zero totals.
      const [totals] = await ds.query(`SELECT sum(messages)::int AS messages, sum(bytes)::int AS bytes FROM ingest_queue_totals`);
      expect(totals).toEqual({ messages: 0, bytes: 0 });
      const rows = (await ds.query(
        `SELECT idempotency_key AS key, count(*)::int AS n FROM (
           SELECT idempotency_key FROM usage_events WHERE organization_id = ANY($1)
           UNION ALL SELECT idempotency_key FROM refused_events WHERE organization_id = ANY($1)) x
         GROUP BY 1`,
        [orgs],
      )) as Array<{ key: string; n: number }>;
      const recorded = new Map(rows.map((r) => [r.key, r.n]));
      const missing = acknowledged.filter((k) => !recorded.has(k));
      const twice = rows.filter((r) => r.n > 1);
      expect({ acknowledged: acknowledged.length, missing: missing.slice(0, 10), twice: twice.slice(0, 10) }).toEqual({ acknowledged: acknowledged.length, missing: [], twice: [] });
      // kill-c is on the free plan: past its allowance the rest is kept as refused, never charged.
      const [{ refused }] = await ds.query(`SELECT count(*)::int AS refused FROM refused_events WHERE organization_id = 'kill-c'`);
      expect(refused).toBeGreaterThan(0);
      for (const id of orgs) await expectLedgerConsistent(ds, id);
    } finally {
      for (const s of [a, b]) if (s && s.child.exitCode === null) s.child.kill('SIGKILL');
      await ds?.destroy();
      await database.drop();
    }
  }, 300_000);
});
