import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { AiToolsService } from '../src/modules/ai-tools/ai-tools.service';
import { AsyncUsageBuffer } from '../src/modules/tracking/async-usage-buffer.service';
import { contractCheckEnabled, takeContractViolations } from './utils/contract';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startInstancePair } from './utils/test-app';
import type { InstancePair, TestApp } from './utils/test-app';
import { createOrg as newOrg } from './utils/factories';

/**
 * A repeated Idempotency-Key never buys a second run of metered work: a replay of a completed request gets
 * the first answer back (from the database, so from either instance), a duplicate of a running one 409
 * IDEMPOTENCY_IN_PROGRESS, an answer too large to keep 409 IDEMPOTENCY_REPLAYED with the charge; an
 * asynchronous retry is a duplicate, never a refused conflict. Two instances on one PostgreSQL (on PGlite,
 * one process's database, the second instance is the first).
 */
describe('idempotent replay of metered routes', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let a: TestApp;
  let b: TestApp;
  let pair: InstancePair | undefined;

  beforeAll(async () => {
    pair = await startInstancePair({ clock, config: { asyncFlushIntervalMs: 60_000 } });
    ({ a, b } = pair);
  });
  afterAll(async () => {
    await pair?.close();
  });

  const createOrg = (plan = 'free'): Promise<string> => newOrg(a, plan, { prefix: 'idem' });
  const call = (t: TestApp, path: string, org: string, key: string, body: Record<string, unknown> = {}) =>
    t.http().post(path).set(ADMIN).set('X-Organization-Id', org).set('Idempotency-Key', key).send(body);

  /** Counts the handler's runs on both instances (the stand-in tool behind every AI route). */
  function countRuns() {
    const spies = [...new Set([a, b])].map((t) => jest.spyOn(t.app.get(AiToolsService), 'run'));
    return { runs: () => spies.reduce((n, s) => n + s.mock.calls.length, 0), restore: () => spies.forEach((s) => s.mockRestore()), spies };
  }
  const usageHeaders = (res: { headers: Record<string, string> }) => ({ consumed: res.headers['x-credits-consumed'], remaining: res.headers['x-credits-remaining'] });

  describe('synchronous routes', () => {
    it('a replay of a completed request gets the first answer (status, body, usage headers) from either instance, and never runs the handler', async () => {
      const org = await createOrg();
      const counter = countRuns();
      try {
        const first = await call(a, '/api/structuring/diagnose', org, 'diag-1', { complexity: 2, echo: true, inputText: 'hello' }).expect(200);
        expect(first.body.usage).toMatchObject({ creditsConsumed: 25, remainingCredits: 75 });
        expect(counter.runs()).toBe(1);
        for (let i = 0; i < 6; i++) {
          const replay = await call(i % 2 === 0 ? b : a, '/api/structuring/diagnose', org, 'diag-1', { complexity: 2, echo: true, inputText: 'hello' });
          expect(replay.status).toBe(200);
          expect(replay.body).toEqual(first.body);
          expect(usageHeaders(replay)).toEqual({ consumed: '25', remaining: '75' });
          expect(replay.headers['idempotent-replayed']).toBe('true');
        }
        expect(counter.runs()).toBe(1);
      } finally {
        counter.restore();
      }
      expect((await ledgerState(a.dataSource, org)).events.n).toBe(1);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('a replay after the organization ran out of credits still gets the stored answer, without running', async () => {
      const org = await createOrg();
      const first = await call(a, '/api/structuring/diagnose', org, 'short-1', { complexity: 2, echo: true }).expect(200); // 25 of 100
      await a.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ events: Array.from({ length: 3 }, () => ({ eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true } })) }).expect(200);
      await call(a, '/api/structuring/diagnose', org, 'short-2', { complexity: 2, echo: true }).expect(402);
      const counter = countRuns();
      try {
        const replay = await call(b, '/api/structuring/diagnose', org, 'short-1', { complexity: 2, echo: true }).expect(200);
        expect(replay.body).toEqual(first.body);
        expect(counter.runs()).toBe(0);
      } finally {
        counter.restore();
      }
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('a duplicate while the first is still running: 409 IDEMPOTENCY_IN_PROGRESS with Retry-After, on either instance; the handler runs once', async () => {
      const org = await createOrg();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const counter = countRuns();
      const original = counter.spies[0].getMockImplementation() ?? ((tool: string, body: unknown) => new AiToolsService().run(tool, body));
      for (const spy of counter.spies) spy.mockImplementation(((tool: string, body: unknown) => gate.then(() => original(tool, body))) as unknown as AiToolsService['run']);
      try {
        const first = call(a, '/api/structuring/diagnose', org, 'slow-1', { complexity: 1 }).then((r) => r);
        while (counter.runs() === 0) await new Promise((r) => setTimeout(r, 5));
        for (const t of [a, b, a]) {
          // Bounded: a duplicate that ran the handler would wait at the gate (the bug), not answer.
          const dup = await call(t, '/api/structuring/diagnose', org, 'slow-1', { complexity: 1 }).timeout(5_000).expect(409);
          expect(dup.body).toMatchObject({ error: 'IDEMPOTENCY_IN_PROGRESS', details: { idempotencyKey: 'slow-1', retryAfterSeconds: 600 } });
          // The hold's default TTL (600 s) from the fake clock: the latest the first request can still be running.
          expect(dup.headers['retry-after']).toBe('600');
        }
        release();
        const done = await first;
        expect(done.status).toBe(200);
        expect(counter.runs()).toBe(1);
        const after = await call(b, '/api/structuring/diagnose', org, 'slow-1', { complexity: 1 }).expect(200);
        expect(after.body).toEqual(done.body);
        expect(counter.runs()).toBe(1);
      } finally {
        release();
        counter.restore();
      }
      expect((await ledgerState(a.dataSource, org)).events.n).toBe(1);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('an answer over IDEMPOTENT_RESPONSE_MAX_BYTES is not kept: its replay is 409 IDEMPOTENCY_REPLAYED with the original charge, never a second run', async () => {
      const org = await createOrg();
      const counter = countRuns();
      const big = { tool: 'structuring_diagnose', output: { id: 'x', summary: 'y'.repeat(a.config.idempotentResponseMaxBytes), score: 1 } };
      for (const spy of counter.spies) spy.mockReturnValue(big);
      try {
        const first = await call(a, '/api/structuring/diagnose', org, 'big-1', { complexity: 1 }).expect(200);
        expect(first.body.output.summary.length).toBe(a.config.idempotentResponseMaxBytes);
        const replay = await call(b, '/api/structuring/diagnose', org, 'big-1', { complexity: 1 }).expect(409);
        expect(replay.body).toMatchObject({
          error: 'IDEMPOTENCY_REPLAYED',
          details: { idempotencyKey: 'big-1', eventId: first.body.usage.eventId, creditsConsumed: 10, reason: 'too_large' },
        });
        expect(counter.runs()).toBe(1);
      } finally {
        counter.restore();
      }
      const [{ bytes }] = await a.dataSource.query(`SELECT octet_length(response::text) AS bytes FROM idempotency_keys WHERE organization_id = $1 AND key = 'big-1'`, [org]);
      expect(bytes).toBeLessThan(2_000);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('the race: 8 copies of one request at once, 4 on each instance, 10 rounds: one run and one charge a round; every other copy is the first answer or 409 IN_PROGRESS', async () => {
      const org = await createOrg('enterprise');
      const counter = countRuns();
      try {
        for (let round = 0; round < 10; round++) {
          const before = counter.runs();
          const key = `race-${round}`;
          const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => call(i % 2 === 0 ? a : b, '/api/structuring/diagnose', org, key, { complexity: 1, inputText: key })));
          expect(counter.runs() - before).toBe(1);
          const ok = answers.filter((r) => r.status === 200);
          const busy = answers.filter((r) => r.status === 409);
          expect(ok.length + busy.length).toBe(8);
          expect(ok.length).toBeGreaterThanOrEqual(1);
          for (const r of ok) expect(r.body).toEqual(ok[0].body);
          for (const r of busy) expect(r.body.error).toBe('IDEMPOTENCY_IN_PROGRESS');
          // After the race, every copy is the first answer.
          const late = await call(b, '/api/structuring/diagnose', org, key, { complexity: 1, inputText: key }).expect(200);
          expect(late.body).toEqual(ok[0].body);
        }
      } finally {
        counter.restore();
      }
      expect((await ledgerState(a.dataSource, org)).events.n).toBe(10);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('an answer that is not JSON (a buffer) is not kept: its replay is 409 IDEMPOTENCY_REPLAYED (not_json), never a second run', async () => {
      const org = await createOrg();
      const counter = countRuns();
      for (const spy of counter.spies) spy.mockReturnValue(Buffer.from('%PDF-1.7 not json') as unknown as ReturnType<AiToolsService['run']>);
      try {
        await call(a, '/api/structuring/diagnose', org, 'bin-1', { complexity: 1 }).expect(200);
        // The stand-in route documents JSON; its handler answers a buffer here on purpose (the only violation).
        expect(takeContractViolations().map((v) => v.problem)).toEqual(contractCheckEnabled ? [expect.stringContaining('application/octet-stream')] : []);
        const replay = await call(b, '/api/structuring/diagnose', org, 'bin-1', { complexity: 1 }).expect(409);
        expect(replay.body).toMatchObject({ error: 'IDEMPOTENCY_REPLAYED', details: { idempotencyKey: 'bin-1', creditsConsumed: 10, reason: 'not_json' } });
        expect(counter.runs()).toBe(1);
      } finally {
        counter.restore();
      }
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('the same key with a different body is still a conflict, and a failed run frees the key for a retry that runs', async () => {
      const org = await createOrg();
      await call(a, '/api/structuring/diagnose', org, 'diff-1', { complexity: 1 }).expect(200);
      await call(b, '/api/structuring/diagnose', org, 'diff-1', { complexity: 2 }).expect(409).expect((r) => expect(r.body.error).toBe('IDEMPOTENCY_CONFLICT'));
      await call(a, '/api/visuals/planning', org, 'fail-1', { simulateFailure: true }).expect(503);
      const retry = await call(b, '/api/visuals/planning', org, 'fail-1', {}).expect(200);
      expect(retry.body.usage).toMatchObject({ creditsConsumed: 8 });
      await expectLedgerConsistent(a.dataSource, org);
    });
  });

  describe('reservations API', () => {
    it('a second commit of a committed hold is 409 RESERVATION_SETTLED carrying the original charge', async () => {
      const org = await createOrg();
      const hold = await a.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).set('Idempotency-Key', 'api-1').send({ eventType: 'structuring_diagnose', eventData: { complexity: 1 } }).expect(201);
      const first = await a.http().post(`/api/organizations/${org}/usage/reservations/${hold.body.reservationId}/commit`).set(ADMIN).send({ response: { status: 200, body: { ok: true } } }).expect(200);
      const again = await b.http().post(`/api/organizations/${org}/usage/reservations/${hold.body.reservationId}/commit`).set(ADMIN).send({}).expect(409);
      expect(again.body).toMatchObject({ error: 'RESERVATION_SETTLED', details: { status: 'committed', eventId: first.body.eventId, creditsConsumed: 10 } });
      // The key's replay: the hold as committed, with the answer kept by the commit.
      const replay = await b.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).set('Idempotency-Key', 'api-1').send({ eventType: 'structuring_diagnose', eventData: { complexity: 1 } }).expect(201);
      expect(replay.body).toMatchObject({ duplicate: true, status: 'committed', answer: { status: 200, body: { ok: true }, usage: { eventId: first.body.eventId, creditsConsumed: 10 } } });
      await a.http().post(`/api/organizations/${org}/usage/reservations/${hold.body.reservationId}/commit`).set(ADMIN).send({ response: { status: 99 } }).expect(400);
      await expectLedgerConsistent(a.dataSource, org);
    });
  });

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
