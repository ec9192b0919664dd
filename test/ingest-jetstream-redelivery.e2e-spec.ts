import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { IngestDrainer } from '../src/modules/ingest/ingest-drainer.service';
import { IngestQueue } from '../src/modules/ingest/ingest-queue.types';
import type { ClaimedBatch } from '../src/modules/ingest/ingest-queue.types';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { natsServerBinary, NatsNode, startNatsNode, stopNatsNode } from './utils/nats-server';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { createOrg as newOrg } from './utils/factories';

/**
 * On JetStream the acknowledgement follows the ledger commit. A batch whose commit succeeded and whose
 * acknowledgement did not (the process died between the two, the ack was lost, the lease ran out under a
 * slow write) is delivered again: it must be acknowledged without being written a second time, so its
 * receipt counts each event once and each refusal is kept once.
 */
const describeWithNats = natsServerBinary() ? describe : describe.skip;

describeWithNats('JetStream redelivery after a committed write', () => {
  let node: NatsNode;
  let t: TestApp;

  beforeAll(async () => {
    Logger.overrideLogger(false);
    node = await startNatsNode();
    const name = `R${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    t = await startTestApp({
      config: {
        ingestDrainers: 0,
        ingestLeaseSeconds: 2,
        nats: { servers: [node.url], stream: name, subjectPrefix: `test.${name}`, consumer: 'drainers', replicas: 1, duplicateWindowSeconds: 120, maxAckPending: 10_000 },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    if (node) await stopNatsNode(node);
  });

  const createOrg = (plan: string): Promise<string> => newOrg(t, plan, { prefix: 'jr' });

  /** The next `times` claims hand out batches whose acknowledgement fails after the commit, as a crash would. */
  function loseAcks(times: number): () => void {
    const queue = t.app.get(IngestQueue);
    const claim = queue.claim.bind(queue);
    let left = times;
    queue.claim = async (max: number): Promise<ClaimedBatch | null> => {
      const batch = await claim(max);
      if (!batch || left <= 0) return batch;
      left--;
      return { ...batch, ack: () => Promise.reject(new Error('the process died before its acknowledgement')) };
    };
    return () => {
      queue.claim = claim;
    };
  }

  const refusedRows = async (id: string): Promise<number> =>
    (await t.dataSource.query(`SELECT count(*)::int AS n FROM refused_events WHERE organization_id = $1`, [id]))[0].n;

  it('a batch delivered again after its commit is acknowledged, not written twice: receipt, refusals and charge once', async () => {
    const id = await createOrg('free'); // 100 credits, hard cap
    const events = Array.from({ length: 104 }, (_, i) => ({ eventType: 'push_sow_to_loe', idempotencyKey: `rd-${i}` }));
    const res = await t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).set('Prefer', 'respond-async').send({ events }).expect(202);
    const restore = loseAcks(1);
    const drainer = t.app.get(IngestDrainer);
    try {
      // The write commits, the acknowledgement fails: the drainer gives the batch back and it comes again.
      await expect(drainer.drainOnce()).rejects.toThrow('the process died');
    } finally {
      restore();
    }
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(100);
    await drainer.drainAll();
    const receipt = await t.http().get(`/api/organizations/${id}/usage/receipts/${res.body.receiptId}`).set(ADMIN).expect(200);
    expect(receipt.body).toMatchObject({ status: 'applied', total: 104, accepted: 100, duplicates: 0, refused: 4 });
    expect(receipt.body.refusals.map((r: { index: number }) => r.index)).toEqual([100, 101, 102, 103]);
    expect(await refusedRows(id)).toBe(4);
    const state = await ledgerState(t.dataSource, id);
    expect(state.events.n).toBe(100);
    expect(state.events.credits).toBe('100.000000');
    await expectLedgerConsistent(t.dataSource, id);
    // Every acknowledgement confirmed: nothing is left to remember.
    expect((await t.dataSource.query(`SELECT count(*)::int AS n FROM ingest_deliveries`))[0].n).toBe(0);
  });

  it('many rounds: each batch committed and not acknowledged is delivered again and written once', async () => {
    const id = await createOrg('starter');
    const drainer = t.app.get(IngestDrainer);
    const receipts: string[] = [];
    for (let round = 0; round < 5; round++) {
      const events = Array.from({ length: 20 }, (_, i) => ({ eventType: 'push_sow_to_loe', idempotencyKey: `mr-${round}-${i}` }));
      const res = await t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).set('Prefer', 'respond-async').send({ events }).expect(202);
      receipts.push(res.body.receiptId);
      const restore = loseAcks(1);
      try {
        await expect(drainer.drainOnce()).rejects.toThrow('the process died');
      } finally {
        restore();
      }
    }
    await drainer.drainAll();
    for (const receiptId of receipts) {
      const receipt = await t.http().get(`/api/organizations/${id}/usage/receipts/${receiptId}`).set(ADMIN).expect(200);
      expect(receipt.body).toMatchObject({ status: 'applied', total: 20, accepted: 20, duplicates: 0, refused: 0 });
    }
    const state = await ledgerState(t.dataSource, id);
    expect(state.events.n).toBe(100);
    await expectLedgerConsistent(t.dataSource, id);
  });
});
