import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { LedgerRepository } from '../src/modules/ledger/ledger.repository';
import { IngestDrainer } from '../src/modules/ingest/ingest-drainer.service';
import { IngestQueue } from '../src/modules/ingest/ingest-queue.types';
import type { ClaimedBatch } from '../src/modules/ingest/ingest-queue.types';
import { AsyncUsageBuffer } from '../src/modules/tracking/async-usage-buffer.service';
import { UsageTracker } from '../src/modules/usage/usage-tracker.service';
import type { PreparedRun } from '../src/modules/usage/usage-tracker.service';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startInstancePair, startTestApp, TestApp } from './utils/test-app';
import { ON_POSTGRES } from './utils/test-database';
import { TransactionHost } from '../src/common/database/transaction-host';
import { createOrg as newOrg } from './utils/factories';

/**
 * Durable asynchronous ingestion on the PostgreSQL queue (and the embedded database): an event answered as
 * accepted is a row before the answer, drained once, its refusal kept in the same transaction; receipts,
 * replays, bounds. No drainer runs in the background here (INGEST_DRAINERS=0): each test drains by hand.
 */
describe('ingest queue (PostgreSQL store)', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ clock, config: { ingestDrainers: 0, ingestLeaseSeconds: 30 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const createOrg = (plan = 'free'): Promise<string> => newOrg(t, plan, { prefix: 'iq' });
  const asyncCall = (orgId: string, key?: string) => {
    const r = t.http().post('/api/push/sow-to-loe').set(ADMIN).set('X-Organization-Id', orgId);
    return (key ? r.set('Idempotency-Key', key) : r).send({ payload: 'x' });
  };
  const asyncBatch = (orgId: string, events: unknown[], key?: string) => {
    const r = t.http().post(`/api/organizations/${orgId}/usage/events`).set(ADMIN).set('Prefer', 'respond-async');
    return (key ? r.set('Idempotency-Key', key) : r).send({ events });
  };
  const waiting = async (orgId: string): Promise<number> => (await t.dataSource.query(`SELECT count(*)::int AS n FROM ingest_queue WHERE organization_id = $1`, [orgId]))[0].n;
  const drainAll = () => t.app.get(IngestDrainer).drainAll();
  /**
   * Two organizations' asynchronous calls answered in `order` (keys 'a-…' for a, 'b-…' for b), then a first
   * drainer's claim of one event (a-1, the oldest).
   */
  const waitingThenClaimedOne = async (order: string[]) => {
    const a = await createOrg();
    const b = await createOrg();
    for (const key of order) await asyncCall(key.startsWith('a') ? a : b, key).expect(200);
    const queue = t.app.get(IngestQueue);
    const first = await queue.claim(1);
    expect(first!.messages.map((m) => m.input.idempotencyKey)).toEqual(['a-1']);
    return { a, b, queue, first };
  };

  it('an answered asynchronous call is a committed queue row before any drain, then written once', async () => {
    const id = await createOrg();
    const res = await asyncCall(id, 'k-1').expect(200);
    expect(res.body.usage).toMatchObject({ mode: 'async', creditsConsumed: 1 });
    expect(await waiting(id)).toBe(1);
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(0);
    // Without an Idempotency-Key the acceptance gives one: a redelivery of that message is charged once.
    await asyncCall(id).expect(200);
    const [{ generated }] = await t.dataSource.query(`SELECT count(*)::int AS generated FROM ingest_queue WHERE organization_id = $1 AND payload->>'idempotencyKey' LIKE 'ingest-%'`, [id]);
    expect(generated).toBe(1);
    // From code, through the injectable API: stored before it resolves.
    await t.app.get(AsyncUsageBuffer).trackAsync({ organizationId: id, eventType: 'push_sow_to_loe', idempotencyKey: 'from-code' });
    expect(await waiting(id)).toBe(3);
    await drainAll();
    expect(await waiting(id)).toBe(0);
    const state = await ledgerState(t.dataSource, id);
    expect(state.events.n).toBe(3);
    expect(state.events.credits).toBe('3.000000');
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('a claim whose acknowledgement never came is delivered again after its lease, and charged once', async () => {
    const id = await createOrg();
    for (let i = 0; i < 5; i++) await asyncCall(id, `lease-${i}`).expect(200);
    const queue = t.app.get(IngestQueue);
    // A drainer claims and dies: nothing written, nothing acknowledged.
    const lost = await queue.claim(100);
    expect(lost!.messages.filter((m) => m.input.organizationId === id)).toHaveLength(5);
    // Within the lease nobody else gets them.
    expect(await queue.claim(100)).toBeNull();
    // A drainer wrote them to the ledger (committed) and died before its acknowledgement (the JetStream order).
    await t.app.get(UsageTracker).drain(lost!.messages.map((m) => m.input));
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(5);
    clock.advance(31_000);
    expect(await drainAll()).toBe(5);
    expect(await waiting(id)).toBe(0);
    const state = await ledgerState(t.dataSource, id);
    expect(state.events.n).toBe(5);
    expect(state.events.credits).toBe('5.000000');
    const refused = await t.dataSource.query(`SELECT count(*)::int AS n FROM refused_events WHERE organization_id = $1`, [id]);
    expect(refused[0].n).toBe(0);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it("a lease that ran out is given up at the next claim: its holder's ack fails and rolls its write back, the new holder writes the events once", async () => {
    const id = await createOrg();
    for (let i = 0; i < 3; i++) await asyncCall(id, `slow-${i}`).expect(200);
    const queue = t.app.get(IngestQueue);
    const tracker = t.app.get(UsageTracker);
    const keys = (b: ClaimedBatch | null) => b!.messages.map((m) => m.input.idempotencyKey);
    const slow = await queue.claim(100);
    expect(keys(slow)).toEqual(['slow-0', 'slow-1', 'slow-2']);
    clock.advance(31_000);
    const took = await queue.claim(100);
    expect(keys(took)).toEqual(['slow-0', 'slow-1', 'slow-2']);
    // The first holder finishes its write after all: its ack, in its ledger transaction, finds its lease
    // gone and throws, so nothing of that transaction is kept (its refusals would otherwise be kept twice).
    await expect(tracker.drain(slow!.messages.map((m) => m.input), () => slow!.ack())).rejects.toThrow('Ingest claim lost');
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(0);
    expect(await waiting(id)).toBe(3);
    await tracker.drain(took!.messages.map((m) => m.input), () => took!.ack());
    expect(await waiting(id)).toBe(0);
    const [{ leases }] = await t.dataSource.query(`SELECT count(*)::int AS leases FROM ingest_leases WHERE organization_id = $1`, [id]);
    expect(leases).toBe(0);
    const state = await ledgerState(t.dataSource, id);
    expect(state.events.n).toBe(3);
    expect(state.events.credits).toBe('3.000000');
    await expectLedgerConsistent(t.dataSource, id);
  });

  // Two connections at once: PostgreSQL only (the embedded database is one session).
  (ON_POSTGRES ? it : it.skip)('a claim neither waits for a holder acknowledging a lease that ran out nor hands out the events it is removing', async () => {
    const id = await createOrg();
    for (let i = 0; i < 2; i++) await asyncCall(id, `acking-${i}`).expect(200);
    const queue = t.app.get(IngestQueue);
    const tracker = t.app.get(UsageTracker);
    const held = await queue.claim(100);
    expect(held!.messages.map((m) => m.input.idempotencyKey)).toEqual(['acking-0', 'acking-1']);
    clock.advance(31_000);
    let acked!: () => void;
    const acking = new Promise<void>((r) => (acked = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    // The holder has acknowledged (its ack deleted its lease row and the events) and not committed yet.
    const writing = TransactionHost.detached(() =>
      tracker.drain(held!.messages.map((m) => m.input), async () => {
        await held!.ack();
        acked();
        await released;
      }),
    );
    await acking;
    const next = await queue.claim(100);
    expect(next?.messages.filter((m) => m.input.organizationId === id) ?? []).toEqual([]);
    await next?.nack();
    release();
    await writing;
    expect(await waiting(id)).toBe(0);
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(2);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('a synchronous call racing the drain of an asynchronous event with the same key: one charge a key, whichever wins (40 rounds)', async () => {
    const id = await createOrg('starter');
    const drainer = t.app.get(IngestDrainer);
    for (let round = 0; round < 40; round++) {
      const key = `race-${round}`;
      await asyncBatch(id, [{ eventType: 'push_sow_to_loe', idempotencyKey: key }]).expect(202);
      // The call starts a little later each round (the drain's claim and preparation come before its ledger
      // transaction), so that either one takes the key first and their transactions overlap in between.
      const [sync] = await Promise.all([
        new Promise((r) => setTimeout(r, round % 10)).then(() => t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).set('Idempotency-Key', key).send({ eventType: 'push_sow_to_loe' })),
        drainer.drainOnce(),
      ]);
      // The same request under the same key: the second of the two is a replay of the first, never a charge.
      expect(sync.status).toBe(201);
    }
    await drainAll();
    const twice = await t.dataSource.query(`SELECT idempotency_key FROM usage_events WHERE organization_id = $1 GROUP BY idempotency_key HAVING count(*) > 1`, [id]);
    expect(twice).toEqual([]);
    const state = await ledgerState(t.dataSource, id);
    expect(state.events.n).toBe(40);
    expect(state.events.credits).toBe('40.000000');
    await expectLedgerConsistent(t.dataSource, id);
  });

  it("an organization another drainer holds is never claimed by a second one (its events are decided in order)", async () => {
    const { queue, first } = await waitingThenClaimedOne(['a-1', 'b-1', 'a-2']);
    // a-2 waits behind a-1 (held): the next claim takes b only.
    const second = await queue.claim(10);
    expect(second!.messages.map((m) => m.input.idempotencyKey)).toEqual(['b-1']);
    await first!.nack();
    await second!.nack();
    const all = await queue.claim(10);
    expect(all!.messages.map((m) => m.input.idempotencyKey)).toEqual(['a-1', 'b-1', 'a-2']);
    await all!.nack();
    await drainAll();
  });

  it('a drainer claiming ahead continues its own claims\' organizations, and no one else\'s', async () => {
    const { a, queue, first } = await waitingThenClaimedOne(['a-1', 'a-2', 'b-1']);
    const other = await queue.claim(1);
    expect(other!.messages.map((m) => m.input.idempotencyKey)).toEqual(['b-1']);
    // The holder of a-1 may take a-2 (it writes a-1 first); the holder of b-1 may not, nor may anyone else.
    expect(await queue.claim(10, [other!])).toBeNull();
    expect(await queue.claim(10)).toBeNull();
    const ahead = await queue.claim(10, [first!]);
    expect(ahead!.messages.map((m) => m.input.idempotencyKey)).toEqual(['a-2']);
    for (const batch of [ahead, other, first]) await batch!.nack();
    await drainAll();
    const rows = await t.dataSource.query(`SELECT idempotency_key FROM usage_events WHERE organization_id = $1 ORDER BY recorded_at, occurred_at`, [a]);
    expect(rows.map((r: { idempotency_key: string }) => r.idempotency_key)).toEqual(['a-1', 'a-2']);
  });

  it("another drainer's lease with the same lease end is not the caller's own: its organization stays held, and a nack releases only the claim's own organizations", async () => {
    const { a, b, queue, first } = await waitingThenClaimedOne(['a-1', 'b-1', 'a-2']);
    // Another instance's claim of b in the same millisecond, drawn the same microseconds: the same lease end.
    await t.dataSource.query(`INSERT INTO ingest_leases (organization_id, lease, last_seq) VALUES ($1, $2, (SELECT max(seq) FROM ingest_queue WHERE organization_id = $1))`, [b, first!.lease]);
    // Continuing its own claim, the first drainer takes a-2, never b-1 (held by the other one).
    const ahead = await queue.claim(10, [first!]);
    expect(ahead!.messages.map((m) => m.input.idempotencyKey)).toEqual(['a-2']);
    await ahead!.nack();
    await first!.nack();
    // Its nacks gave back a's leases only: b is still the other drainer's.
    expect(await t.dataSource.query(`SELECT organization_id FROM ingest_leases WHERE organization_id IN ($1, $2)`, [a, b])).toEqual([{ organization_id: b }]);
    const again = await queue.claim(10);
    expect(again!.messages.map((m) => m.input.idempotencyKey)).toEqual(['a-1', 'a-2']);
    await again!.nack();
    await t.dataSource.query(`DELETE FROM ingest_leases WHERE organization_id = $1`, [b]);
    await drainAll();
    expect(await waiting(a)).toBe(0);
    expect(await waiting(b)).toBe(0);
  });

  it('an event that cannot be written holds only its own organization: the others are drained, nothing is dropped', async () => {
    const a = await createOrg('starter');
    const b = await createOrg('starter');
    await asyncCall(a, 'poison').expect(200);
    await asyncCall(b, 'b-ok').expect(200);
    await asyncCall(a, 'a-after').expect(200);
    const tracker = t.app.get(UsageTracker);
    const original = tracker.writeDrain.bind(tracker);
    const poisoned = (run: PreparedRun) => run.ready.some((p) => p.key === 'poison');
    const spy = jest.spyOn(tracker, 'writeDrain').mockImplementation((run, within) => (poisoned(run) ? Promise.reject(new Error('a bug')) : original(run, within)));
    const drainer = t.app.get(IngestDrainer);
    try {
      await expect(drainer.drainOnce()).rejects.toThrow('a bug'); // the batch (what is not written), given back
      await expect(drainer.drainOnce()).rejects.toThrow('a bug'); // the poison alone: it keeps its claim
      // b's event: written with the batch when it went in another write lane (PostgreSQL), else now.
      while ((await drainer.drainOnce()) > 0);
      expect(await drainer.drainOnce()).toBe(0); // a's next event waits behind the poison
      expect((await ledgerState(t.dataSource, b)).events.n).toBe(1);
      expect(await waiting(a)).toBe(2);
    } finally {
      spy.mockRestore();
    }
    // Fixed (here: the spy gone) and its lease over: a's events are written, once each.
    clock.advance(31_000);
    await drainAll();
    const rows = await t.dataSource.query(`SELECT idempotency_key FROM usage_events WHERE organization_id = $1 ORDER BY recorded_at, occurred_at`, [a]);
    expect(rows.map((r: { idempotency_key: string }) => r.idempotency_key).sort()).toEqual(['a-after', 'poison']);
    await expectLedgerConsistent(t.dataSource, a);
  });

  it("accepted and refused events of a batch commit together: a failed refusal write leaves nothing half written", async () => {
    const id = await createOrg();
    const ledger = t.app.get(LedgerRepository);
    const spy = jest.spyOn(ledger, 'insertRefused').mockRejectedValueOnce(new Error('disk full'));
    const inputs = [
      { organizationId: id, eventType: 'push_sow_to_loe', idempotencyKey: 'ok-1' },
      { organizationId: id, eventType: 'no_such_event', idempotencyKey: 'bad-1' },
    ];
    try {
      await expect(t.app.get(UsageTracker).trackAsync(id, inputs)).rejects.toThrow('disk full');
    } finally {
      spy.mockRestore();
    }
    // The accepted one was rolled back with the refusal: a redelivery writes both, once.
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(0);
    const results = await t.app.get(UsageTracker).trackAsync(id, inputs);
    expect(results.map((r) => r.status)).toEqual(['accepted', 'rejected']);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM refused_events WHERE organization_id = $1`, [id]);
    expect(n).toBe(1);
    await expectLedgerConsistent(t.dataSource, id);
  });

  describe('asynchronous batches and receipts', () => {
    it('202 with a receipt once stored; pending, then applied with counts and each refusal with its index and reason', async () => {
      const id = await createOrg(); // free: 100 credits, hard cap
      const events = [
        ...Array.from({ length: 101 }, (_, i) => ({ eventType: 'push_sow_to_loe', idempotencyKey: `rc-${i}` })),
        { eventType: 'no_such_event' },
        { eventType: 'push_sow_to_loe' },
      ];
      const res = await asyncBatch(id, events).expect(202);
      expect(res.headers['preference-applied']).toBe('respond-async');
      expect(res.body).toEqual({ receiptId: expect.any(String), accepted: 102 });
      const receipt = () => t.http().get(`/api/organizations/${id}/usage/receipts/${res.body.receiptId}`).set(ADMIN);
      const pending = await receipt().expect(200);
      expect(pending.body).toMatchObject({ status: 'pending', total: 103, accepted: 0, refused: 1, appliedAt: null });
      expect(pending.body.refusals).toEqual([expect.objectContaining({ index: 101, error: 'EVENT_TYPE_NOT_FOUND' })]);
      expect(await waiting(id)).toBe(102);
      await drainAll();
      const applied = await receipt().expect(200);
      expect(applied.body).toMatchObject({ status: 'applied', total: 103, accepted: 100, duplicates: 0, refused: 3 });
      expect(applied.body.refusals.map((r: { index: number; error: string }) => [r.index, r.error])).toEqual([
        [100, 'CREDITS_EXHAUSTED'],
        [101, 'EVENT_TYPE_NOT_FOUND'],
        [102, 'CREDITS_EXHAUSTED'],
      ]);
      const state = await ledgerState(t.dataSource, id);
      expect(state.events.n).toBe(100);
      await expectLedgerConsistent(t.dataSource, id);
      // Another organization cannot read it; an unknown id is 404 too.
      const other = await createOrg();
      await t.http().get(`/api/organizations/${other}/usage/receipts/${res.body.receiptId}`).set(ADMIN).expect(404);
      await t.http().get(`/api/organizations/${id}/usage/receipts/not-a-receipt`).set(ADMIN).expect(404);
    });

    it('a replay: the same batch key answers the same receipt and stores nothing; the same event keys are duplicates, never a second charge', async () => {
      const id = await createOrg('starter');
      const events = Array.from({ length: 10 }, (_, i) => ({ eventType: 'push_sow_to_loe', idempotencyKey: `rp-${i}` }));
      const first = await asyncBatch(id, events, 'batch-1').expect(202);
      const again = await asyncBatch(id, events, 'batch-1').expect(202);
      expect(again.body).toEqual(first.body);
      expect(await waiting(id)).toBe(10);
      await drainAll();
      // Sent again without the batch key (a new receipt): every event is a duplicate.
      const third = await asyncBatch(id, events).expect(202);
      expect(third.body.receiptId).not.toBe(first.body.receiptId);
      await drainAll();
      const receipt = await t.http().get(`/api/organizations/${id}/usage/receipts/${third.body.receiptId}`).set(ADMIN).expect(200);
      expect(receipt.body).toMatchObject({ status: 'applied', accepted: 0, duplicates: 10, refused: 0 });
      const state = await ledgerState(t.dataSource, id);
      expect(state.events.n).toBe(10);
      expect(state.events.credits).toBe('10.000000');
      // A redelivered async single without occurredAt is dated when it was accepted, and stays a duplicate.
      await asyncCall(id, 'rp-single').expect(200);
      await drainAll();
      clock.advance(5_000);
      await asyncCall(id, 'rp-single').expect(200);
      await drainAll();
      expect((await ledgerState(t.dataSource, id)).events.n).toBe(11);
      await expectLedgerConsistent(t.dataSource, id);
    });

    it('the largest batch allowed (1,000 events) is accepted; 1,001 is a 400 and nothing is stored', async () => {
      const id = await createOrg('starter');
      const big = Array.from({ length: 1000 }, (_, i) => ({ eventType: 'push_sow_to_loe', idempotencyKey: `big-${i}` }));
      const res = await asyncBatch(id, big).expect(202);
      expect(res.body.accepted).toBe(1000);
      await asyncBatch(id, [...big, { eventType: 'push_sow_to_loe' }]).expect(400);
      expect(await waiting(id)).toBe(1000);
      await drainAll();
      expect((await ledgerState(t.dataSource, id)).events.n).toBe(1000);
      await t.http().post('/api/organizations/iq-nobody/usage/events').set(ADMIN).set('Prefer', 'respond-async').send({ events: big.slice(0, 2) }).expect(404);
    });

    it('without Prefer: respond-async the batch route stays synchronous', async () => {
      const id = await createOrg();
      const res = await t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).send({ events: [{ eventType: 'push_sow_to_loe' }] }).expect(200);
      expect(res.body.results[0].status).toBe('accepted');
      expect(await waiting(id)).toBe(0);
    });
  });
});

describe('ingest queue bounds', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ clock, config: { ingestDrainers: 0, ingestMaxMessages: 5, ingestMaxAgeSeconds: 60 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('503 INGEST_QUEUE_FULL with Retry-After past a bound, and nothing of the refused call is written', async () => {
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'full-org', name: 'Full', plan: 'starter' }).expect(201);
    const call = (key: string) => t.http().post('/api/push/sow-to-loe').set(ADMIN).set('X-Organization-Id', 'full-org').set('Idempotency-Key', key).send({});
    for (let i = 0; i < 4; i++) await call(`f-${i}`).expect(200);
    // A batch of 2 would pass 5: refused whole, no receipt.
    const batch = await t.http().post('/api/organizations/full-org/usage/events').set(ADMIN).set('Prefer', 'respond-async').send({ events: [{ eventType: 'push_sow_to_loe' }, { eventType: 'push_sow_to_loe' }] }).expect(503);
    expect(batch.body.error).toBe('INGEST_QUEUE_FULL');
    expect(batch.headers['retry-after']).toBe('2');
    const [{ receipts }] = await t.dataSource.query(`SELECT count(*)::int AS receipts FROM ingest_receipts WHERE organization_id = 'full-org'`);
    expect(receipts).toBe(0);
    await call('f-4').expect(200);
    const full = await call('f-5').expect(503);
    expect(full.body).toMatchObject({ error: 'INGEST_QUEUE_FULL', details: { retryAfterSeconds: 2 } });
    expect(full.headers['retry-after']).toBe('2');
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM ingest_queue`);
    expect(n).toBe(5);
    // Drained, there is room again.
    await t.app.get(IngestDrainer).drainAll();
    clock.advance(1_000);
    await call('f-5').expect(200);
    // Too old: the drainers are behind; refused until they catch up.
    clock.advance(61_000);
    const old = await call('f-6').expect(503);
    expect(old.headers['retry-after']).toBe('30');
    await t.app.get(IngestDrainer).drainAll();
    clock.advance(1_000);
    await call('f-6').expect(200);
    const metrics = await t.http().get('/metrics').expect(200);
    expect(metrics.text).toMatch(/ingest_queue_full_total 3/);
    expect(metrics.text).toMatch(/ingest_queue_waiting 1/);
  });
});

/**
 * The queue's size as the lag reports it comes from totals a statement trigger keeps (ingest_queue_totals),
 * not from a count of the queue: they must be exact for whatever commits, whoever writes the queue, and under
 * concurrent writers on two instances.
 */
describe('ingest queue totals', () => {
  const truth = async (t: TestApp) => {
    const [row] = await t.dataSource.query(`SELECT count(*)::int AS waiting, coalesce(sum(bytes), 0)::int AS bytes FROM ingest_queue`);
    return { waiting: row.waiting as number, waitingBytes: row.bytes as number };
  };
  const lagOf = async (t: TestApp) => {
    const { waiting, waitingBytes } = await t.app.get(IngestQueue).lag();
    return { waiting, waitingBytes };
  };
  const asyncBatch = (t: TestApp, orgId: string, keys: string[]) =>
    t.http().post(`/api/organizations/${orgId}/usage/events`).set(ADMIN).set('Prefer', 'respond-async').send({ events: keys.map((idempotencyKey) => ({ eventType: 'push_sow_to_loe', idempotencyKey })) });

  it("equal the queue after appends, a claim given back, a drain, a failed write, an operator's DELETE and a TRUNCATE", async () => {
    const t = await startTestApp({ config: { ingestDrainers: 0 } });
    try {
      const id = await newOrg(t, 'enterprise', { prefix: 'qt' });
      await t.http().post('/api/push/sow-to-loe').set(ADMIN).set('X-Organization-Id', id).set('Idempotency-Key', 'qt-single').send({ payload: 'x' }).expect(200);
      await asyncBatch(t, id, Array.from({ length: 40 }, (_, i) => `qt-${i}`)).expect(202);
      const stored = await truth(t);
      expect(stored.waiting).toBe(41);
      expect(stored.waitingBytes).toBeGreaterThan(41 * 50);
      expect(await lagOf(t)).toEqual(stored);
      // A claim given back removes nothing; a drained claim removes its events.
      const queue = t.app.get(IngestQueue);
      await (await queue.claim(10))!.nack();
      expect(await lagOf(t)).toEqual(await truth(t));
      // A write that fails rolls its acknowledgement back, and the totals with it.
      const claimed = await queue.claim(5);
      await expect(
        t.app.get(TransactionHost).transaction(async () => {
          await claimed!.ack();
          throw new Error('the ledger write failed');
        }),
      ).rejects.toThrow('the ledger write failed');
      await claimed!.nack();
      expect(await lagOf(t)).toEqual(await truth(t));
      expect((await truth(t)).waiting).toBe(41);
      expect(await t.app.get(IngestDrainer).drainOnce()).toBe(41);
      expect(await lagOf(t)).toEqual({ waiting: 0, waitingBytes: 0 });
      await asyncBatch(t, id, ['qt-more-1', 'qt-more-2', 'qt-more-3']).expect(202);
      // An operator removing a message by hand (a poison event), and emptying the queue.
      await t.dataSource.query(`DELETE FROM ingest_queue WHERE seq = (SELECT max(seq) FROM ingest_queue)`);
      expect(await lagOf(t)).toEqual(await truth(t));
      expect((await truth(t)).waiting).toBeGreaterThan(0);
      await t.dataSource.query(`TRUNCATE ingest_queue`);
      expect(await lagOf(t)).toEqual({ waiting: 0, waitingBytes: 0 });
      await asyncBatch(t, id, ['qt-after']).expect(202);
      expect(await lagOf(t)).toEqual(await truth(t));
    } finally {
      await t.close();
    }
  });

  it('equal the queue after concurrent appends and drains on two instances (the race, 20 rounds)', async () => {
    const pair = await startInstancePair({ config: { ingestDrainers: 0 } });
    try {
      const orgs = [await newOrg(pair.a, 'enterprise', { prefix: 'qta' }), await newOrg(pair.a, 'enterprise', { prefix: 'qtb' })];
      for (let round = 0; round < 20; round++) {
        await Promise.all([
          ...[pair.a, pair.b].flatMap((t, n) => orgs.map((org, o) => asyncBatch(t, org, Array.from({ length: 5 }, (_, i) => `r${round}-${n}-${o}-${i}`)).expect(202))),
          ...[pair.a, pair.b].flatMap((t, n) => orgs.map((org) => t.http().post('/api/push/sow-to-loe').set(ADMIN).set('X-Organization-Id', org).set('Idempotency-Key', `s${round}-${n}-${org}`).send({ payload: 'x' }).expect(200))),
          pair.a.app.get(IngestDrainer).drainOnce(),
          pair.b.app.get(IngestDrainer).drainOnce(),
        ]);
        expect(await lagOf(pair.b)).toEqual(await truth(pair.a));
      }
      await pair.a.app.get(IngestDrainer).drainAll();
      expect(await lagOf(pair.a)).toEqual({ waiting: 0, waitingBytes: 0 });
      const [{ n }] = await pair.a.dataSource.query(`SELECT count(*)::int AS n FROM usage_events WHERE organization_id = ANY($1)`, [orgs]);
      expect(n).toBe(20 * 2 * 2 * 6);
    } finally {
      await pair.close();
    }
  });
});
