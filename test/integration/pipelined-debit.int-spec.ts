import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import type { Pool } from 'pg';
import { QueryFailedError } from 'typeorm';
import { FakeClock } from '../../src/common/clock/clock';
import { runPipelined } from '../../src/common/database/pipelined-transaction';
import type { PipelinePool } from '../../src/common/database/pipelined-transaction';
import { InfrastructureModule } from '../../src/core/infrastructure.module';
import { LedgerRepository } from '../../src/modules/ledger/ledger.repository';
import { LedgerService } from '../../src/modules/ledger/ledger.service';
import type { DebitOutcome } from '../../src/modules/ledger/ledger.service';
import { OrganizationsService } from '../../src/modules/organizations/organizations.service';
import { UsageCoreModule } from '../../src/modules/usage/usage-core.module';
import type { TrackInput } from '../../src/modules/usage/usage.types';
import { createOrgWith, debitAsRecorded, llmEventCosting } from '../utils/factories';
import { expectLedgerConsistent, ledgerState } from '../utils/ledger-checks';
import { ON_POSTGRES } from '../utils/test-database';
import { startTestModule } from '../utils/test-module';
import type { TestModule } from '../utils/test-module';

/**
 * The pipelined debit (LedgerService.debit on PostgreSQL outside a transaction: BEGIN, the key claims and
 * the debit sent together, the writes sent together with the COMMIT) and the runner under it
 * (runPipelined). On the embedded database the pipelined path does not apply (LedgerRepository.pipelined
 * says so) and debit takes the TypeORM transaction: the ledger suites cover that one.
 */
describe('pipelined debit (integration)', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let t: TestModule;
  let ledger: LedgerService;

  /**
   * The same debit as LedgerRecorder makes, on `on`'s instance (the first's by default); `around` wraps the
   * ledger's debit alone (the events are prepared and their partition made before it).
   */
  async function debit(inputs: TrackInput[], on: TestModule = t, around = <T>(work: () => Promise<T>) => work()): Promise<DebitOutcome[]> {
    return (await debitAsRecorded(on, clock.now(), inputs, around)).map((d) => d.outcome);
  }

  const event = llmEventCosting;

  const org = (plan = 'starter') => createOrgWith(t.get(OrganizationsService), plan, { prefix: 'int-pipe' });
  const pool = () => (t.dataSource.driver as unknown as { master: Pool }).master;

  /** Connections of this database left inside a transaction (none may be, once a debit has answered). */
  async function openTransactions(): Promise<number> {
    const rows = (await t.dataSource.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`)) as Array<{ n: number }>;
    return rows[0].n;
  }

  beforeAll(async () => {
    t = await startTestModule({ clock });
    ledger = t.get(LedgerService);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('applies on PostgreSQL only, and never inside an ambient transaction (which its work would have to join)', async () => {
    const repository = t.get(LedgerRepository);
    const outside = repository.pipelined(async () => 1);
    expect(outside !== undefined).toBe(ON_POSTGRES);
    await outside;
    await ledger.transaction(async () => expect(repository.pipelined(async () => 1)).toBeUndefined());
  });

  (ON_POSTGRES ? describe : describe.skip)('on PostgreSQL', () => {
    beforeAll(async () => {
      await t.dataSource.query(`CREATE TABLE pipeline_probe (n int PRIMARY KEY)`);
    });

    it('a statement that fails mid-pipeline rolls back all of it, reports that failure (not the aborted ones after it), and the connection goes back to the pool clean', async () => {
      const replies: Array<Promise<unknown>> = [];
      const failed = runPipelined(pool() as unknown as PipelinePool, async (p) => {
        replies.push(p.send({ text: 'INSERT INTO pipeline_probe VALUES (1)' }));
        replies.push(p.send({ text: 'SELECT 1 / (n - 1) FROM pipeline_probe' })); // division by zero
        replies.push(p.send({ text: 'INSERT INTO pipeline_probe VALUES (2)' })); // 25P02: the transaction is aborted
      });
      await expect(failed).rejects.toThrow(QueryFailedError);
      await expect(failed).rejects.toThrow('division by zero');
      const settled = await Promise.allSettled(replies);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
      expect(String((settled[2] as PromiseRejectedResult).reason)).toContain('current transaction is aborted');
      expect(await t.dataSource.query(`SELECT n FROM pipeline_probe`)).toEqual([]);
      expect(await openTransactions()).toBe(0);
      // Every pooled connection answers one statement at a time again (pipelining only while a transaction holds it).
      const clients = await Promise.all(Array.from({ length: pool().totalCount }, () => pool().connect()));
      try {
        for (const c of clients) {
          expect((c as unknown as { pipeline: boolean }).pipeline).toBe(false);
          expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
        }
      } finally {
        clients.forEach((c) => c.release());
      }
    });

    it('a connection that breaks mid-transaction (its backend terminated) fails the transaction, not the process, and the pool goes on', async () => {
      const before = pool().totalCount;
      let lent: { once(event: 'end', listener: () => void): unknown } | undefined;
      const lending: PipelinePool = { connect: async () => (lent = (await pool().connect()) as never) as never };
      const broken = runPipelined(lending, async (p) => {
        const [{ pid }] = await p.send<{ pid: number }>({ text: 'SELECT pg_backend_pid() AS pid' });
        await p.send({ text: 'INSERT INTO pipeline_probe VALUES (5)' });
        // Another connection ends this one's backend while its transaction is open and no statement of it is
        // waiting (the work is busy elsewhere, say a plan read on a cache miss): the client sees its socket end.
        const ended = new Promise<void>((resolve) => lent!.once('end', () => resolve()));
        await t.dataSource.query(`SELECT pg_terminate_backend($1)`, [pid]);
        await ended;
        await p.send({ text: 'INSERT INTO pipeline_probe VALUES (6)' });
      });
      // Without a listener on the checked-out client, pg's 'error' event would have ended the test process here.
      await expect(broken).rejects.toThrow();
      expect(await t.dataSource.query(`SELECT n FROM pipeline_probe`)).toEqual([]);
      // The broken connection was destroyed, not handed out again: every pooled connection answers.
      const clients = await Promise.all(Array.from({ length: Math.max(before, 1) }, () => pool().connect()));
      try {
        for (const c of clients) expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      } finally {
        clients.forEach((c) => c.release());
      }
      const o = await org();
      const [outcome] = await debit([event(o, 1)]);
      expect(outcome.status).toBe('accepted');
    });

    it('an error of the work itself (after statements were sent) rolls back and is the error thrown', async () => {
      const mine = new Error('changed my mind');
      await expect(
        runPipelined(pool() as unknown as PipelinePool, async (p) => {
          await p.send({ text: 'INSERT INTO pipeline_probe VALUES (3)' });
          throw mine;
        }),
      ).rejects.toBe(mine);
      expect(await t.dataSource.query(`SELECT n FROM pipeline_probe`)).toEqual([]);
      expect(await openTransactions()).toBe(0);
    });

    it('statements sent with the COMMIT and never awaited: committed together, or rolled back together with the first failure', async () => {
      await runPipelined(pool() as unknown as PipelinePool, async (p) => {
        void p.send({ text: 'INSERT INTO pipeline_probe VALUES (4)' });
        void p.send({ text: 'INSERT INTO pipeline_probe VALUES (5)' });
      });
      await expect(
        runPipelined(pool() as unknown as PipelinePool, async (p) => {
          void p.send({ text: 'INSERT INTO pipeline_probe VALUES (6)' });
          void p.send({ text: 'INSERT INTO pipeline_probe VALUES (4)' }); // duplicate key
        }),
      ).rejects.toThrow('duplicate key');
      expect(await t.dataSource.query(`SELECT n FROM pipeline_probe ORDER BY n`)).toEqual([{ n: 4 }, { n: 5 }]);
      expect(await openTransactions()).toBe(0);
    });

    it('a lone event is two round trips, with or without an idempotency key (was four and six)', async () => {
      const o = await org();
      const trips = async (input: TrackInput) => {
        let counted = 0;
        const [outcome] = await debit([input], t, async (work) => {
          const { value, trips } = await countRoundTrips(work);
          counted = trips;
          return value;
        });
        expect(outcome.status).toBe('accepted');
        return counted;
      };
      // The first call reads the plan (a cache miss, outside the transaction) and prepares the named
      // statements on its connection (their Parse goes out with them, no round trip of its own).
      await trips(event(o, 1));
      expect(await trips(event(o, 1))).toBe(2);
      expect(await trips(event(o, 1))).toBe(2);
      expect(await trips(event(o, 1, { idempotencyKey: 'rt-1' }))).toBe(2);
      const state = await ledgerState(t.dataSource, o);
      expect({ events: state.events.n, keys: state.keys }).toEqual({ events: 4, keys: 1 });
      await expectLedgerConsistent(t.dataSource, o);
      // The generic plans a small debit asks for (SET LOCAL) ended with its transaction.
      const clients = await Promise.all(Array.from({ length: pool().totalCount }, () => pool().connect()));
      try {
        for (const c of clients) expect((await c.query('SHOW plan_cache_mode')).rows).toEqual([{ plan_cache_mode: 'auto' }]);
      } finally {
        clients.forEach((c) => c.release());
      }
    });

    it('a replay (its key taken) rolls the speculative debit back and is answered as before: duplicate, charged once', async () => {
      const o = await org();
      const [first] = await debit([event(o, 2, { idempotencyKey: 'again' })]);
      const [replay, other] = await debit([event(o, 2, { idempotencyKey: 'again' }), event(o, 1, { idempotencyKey: 'fresh' })]);
      expect(first.status).toBe('accepted');
      expect(replay).toMatchObject({ status: 'duplicate', result: { duplicate: true } });
      expect(other.status).toBe('accepted');
      const state = await ledgerState(t.dataSource, o);
      expect({ events: state.events.n, keys: state.keys, consumed: Number(state.balances.consumed) }).toEqual({ events: 2, keys: 2, consumed: 3 });
      await expectLedgerConsistent(t.dataSource, o);
      expect(await openTransactions()).toBe(0);
    });

    it('a refused keyed event gives its key back in the same pipelined transaction', async () => {
      const o = await org('free');
      const [refused] = await debit([event(o, 1_000_000, { idempotencyKey: 'too-big' })]);
      expect(refused.status).toBe('refused');
      expect((await ledgerState(t.dataSource, o)).keys).toBe(0);
    });

    it('two instances racing on one balance and the same keys: each key charged once, no overspend, nothing left open', async () => {
      const second = await startSecondInstance(t, clock);
      try {
        const o = await org('free'); // 100 credits, no overage
        // 40 rounds of one keyed event sent to both instances at once (the same key: one is the other's
        // replay) and a keyless one: 320 credits asked of 100.
        const per = 4;
        const rounds = await Promise.all(
          Array.from({ length: 40 }, (_, i) => [
            debit([event(o, per, { idempotencyKey: `race-${i}` })], t),
            debit([event(o, per, { idempotencyKey: `race-${i}` })], second),
            debit([event(o, per)], i % 2 ? t : second),
          ]).flat(),
        );
        const outcomes = rounds.map(([d]) => d);
        for (let i = 0; i < 40; i++) {
          const pair = [outcomes[3 * i], outcomes[3 * i + 1]];
          const accepted = pair.filter((d) => d.status === 'accepted');
          // A key is charged by one of the two at most, and then the other is its replay with the same event.
          if (accepted.length === 0) expect(pair.map((d) => d.status)).toEqual(['refused', 'refused']);
          else {
            expect(accepted).toHaveLength(1);
            const replay = pair.find((d) => d !== accepted[0])!;
            expect(replay.status).toBe('duplicate');
            if (replay.status === 'duplicate' && accepted[0].status === 'accepted') expect(replay.result.eventId).toBe(accepted[0].result.eventId);
          }
        }
        const allowance = 100;
        const state = await ledgerState(t.dataSource, o);
        const accepted = outcomes.filter((d) => d.status === 'accepted').length;
        expect(accepted).toBeGreaterThan(0);
        expect(state.events.n).toBe(accepted);
        expect(Number(state.balances.consumed)).toBe(accepted * per);
        expect(Number(state.balances.consumed)).toBeLessThanOrEqual(allowance);
        await expectLedgerConsistent(t.dataSource, o);
        expect(await openTransactions()).toBe(0);
      } finally {
        await second.close();
      }
    });
  });
});

/**
 * Round trips `work` makes to the database: a query sent while its connection has none waiting for an
 * answer starts one; queries sent behind it before it answers ride along (pipelined). Counted on every pg
 * client of the process while `work` runs.
 */
async function countRoundTrips<T>(work: () => Promise<T>): Promise<{ value: T; trips: number }> {
  const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const waiting = new WeakMap<object, number>();
  let trips = 0;
  proto.query = function (this: object, ...args: unknown[]) {
    const n = waiting.get(this) ?? 0;
    if (n === 0) trips++;
    waiting.set(this, n + 1);
    const done = () => waiting.set(this, (waiting.get(this) ?? 1) - 1);
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (...a: unknown[]) => void;
      args[last] = (...a: unknown[]) => {
        done();
        callback(...a);
      };
      return original.apply(this, args);
    }
    const reply = original.apply(this, args) as Promise<unknown>;
    return reply.finally(done);
  };
  try {
    const value = await work();
    return { value, trips };
  } finally {
    proto.query = original;
  }
}

/** A second instance of the ledger on the same database (its own pool and services), as another process would be. */
async function startSecondInstance(first: TestModule, clock: FakeClock): Promise<TestModule> {
  const module = await Test.createTestingModule({
    imports: [InfrastructureModule.forRoot({ config: first.config, clock, database: { seed: false } }), UsageCoreModule],
  }).compile();
  await module.init();
  return {
    module,
    dataSource: first.dataSource,
    config: first.config,
    database: first.database,
    get: (type) => module.get(type, { strict: false }),
    close: () => module.close(),
  };
}
