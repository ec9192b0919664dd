import { Logger } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { FakeClock } from '../src/common/clock/clock';
import { MAX_EVENT_DATA_BYTES } from '../src/modules/usage/utils/track-input';
import { DomainError } from '../src/common/errors/domain-error';
import type { IngestMessage } from '../src/modules/ingest/ingest-queue.types';
import { JETSTREAM_INGEST_DEFAULTS, JetStreamIngestOptions, JetStreamIngestQueue, organizationToken } from '../src/modules/ingest/jetstream-ingest-queue';
import { natsServerBinary, NatsNode, startNatsNode, stopNatsNode } from './utils/nats-server';
import { freePort } from './utils/service-process';

/**
 * The JetStream ingest queue against a real `nats-server -js` of this suite's own (free port, temporary store):
 * what the IngestQueue contract promises, on the server's own guarantees.
 */
const describeWithNats = natsServerBinary() ? describe : describe.skip;

let seq = 0;
function message(organizationId = 'org_a', overrides: Partial<IngestMessage> = {}): IngestMessage {
  seq += 1;
  const idempotencyKey = `key-${seq}-${randomUUID()}`;
  return {
    id: `${organizationId}:${idempotencyKey}`,
    input: { organizationId, eventType: 'ai_call', idempotencyKey },
    enqueuedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** What was appended, as claimed: the claim adds each stored message's delivery id (checked on its own). */
function bodies(batch: { messages: IngestMessage[] } | null | undefined): IngestMessage[] | undefined {
  return batch?.messages.map(({ deliveryId: _deliveryId, ...rest }) => rest);
}

describeWithNats('JetStream ingest queue (one nats-server)', () => {
  let node: NatsNode;
  const opened: JetStreamIngestQueue[] = [];

  beforeAll(async () => {
    // The queue's warnings (failed publishes, terminated messages) are what these tests provoke: keep the output to results.
    Logger.overrideLogger(false);
    node = await startNatsNode();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((q) => q.close()));
  });
  afterAll(async () => {
    if (node) await stopNatsNode(node);
  });

  /**
   * A claim of the `expected` messages just appended. The stream hands a stored message to its consumer a moment
   * after it acknowledges the publish, and a claim pulls with no_wait: right after an append it may find none
   * or part of them yet (a drainer just polls again; CI once found none). Claims until all are there, up to
   * 2 s, giving a partial batch back first (a nack is applied before it resolves).
   */
  async function claimAppended(q: JetStreamIngestQueue, max: number, expected: number): Promise<NonNullable<Awaited<ReturnType<JetStreamIngestQueue['claim']>>>> {
    for (let tries = 0; ; tries += 1) {
      const batch = await q.claim(max);
      if (batch && batch.messages.length >= expected) return batch;
      if (batch) await batch.nack();
      if (tries >= 200) throw new Error(`claimAppended: ${batch?.messages.length ?? 0} of ${expected} appended messages reached the consumer in 2 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Each test its own stream and consumer, so none sees another's leftovers. */
  async function queue(overrides: Partial<JetStreamIngestOptions> = {}, clock = new FakeClock(new Date())): Promise<JetStreamIngestQueue> {
    const name = `T${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const q = await JetStreamIngestQueue.connect(
      {
        ...JETSTREAM_INGEST_DEFAULTS,
        servers: [node.url],
        stream: name,
        subjectPrefix: `test.${name}`,
        maxMessages: 10_000,
        maxBytes: 64 * 1024 * 1024,
        maxAgeSeconds: 0,
        requestTimeoutMs: 2_000,
        ...overrides,
      },
      clock,
    );
    opened.push(q);
    return q;
  }

  it('appends, claims oldest first, and an acknowledged batch is gone for good', async () => {
    const q = await queue();
    const sent = [message('org_a'), message('org_b'), message('org_a', { receiptId: 'rcpt_1' })];
    await q.append(sent);
    expect(await q.lag()).toMatchObject({ waiting: 3 });

    const batch = await claimAppended(q, 10, 3);
    expect(bodies(batch)).toEqual(sent);
    // Claimed by this drainer: no other claim gets them until ack, nack or lease expiry.
    expect(await q.claim(10)).toBeNull();
    await batch!.ack();
    expect(await q.claim(10)).toBeNull();
    expect(await q.lag()).toEqual({ waiting: 0, waitingBytes: 0, oldestAgeMs: 0 });
  });

  it('claims at most max, the rest stays for the next claim (another instance sharing the consumer)', async () => {
    const q = await queue();
    const other = await queue({ stream: (q as unknown as { options: JetStreamIngestOptions }).options.stream, subjectPrefix: (q as unknown as { options: JetStreamIngestOptions }).options.subjectPrefix });
    const sent = Array.from({ length: 25 }, () => message());
    await q.append(sent);
    const first = await claimAppended(q, 10, 10);
    const second = await other.claim(100);
    expect(first?.messages).toHaveLength(10);
    expect(second?.messages).toHaveLength(15);
    const ids = [...first!.messages, ...second!.messages].map((m) => m.id);
    expect(new Set(ids).size).toBe(25);
    await Promise.all([first!.ack(), second!.ack()]);
    expect((await q.lag()).waiting).toBe(0);
  });

  it('a nacked batch is delivered again, whole', async () => {
    const q = await queue();
    const sent = [message(), message()];
    await q.append(sent);
    const batch = await claimAppended(q, 10, 2);
    await batch!.nack();
    const again = await q.claim(10);
    expect(bodies(again)).toEqual(sent);
    // The same stored messages: the same delivery ids, one per message (what stops a second write).
    expect(again!.messages.map((m) => m.deliveryId)).toEqual(batch!.messages.map((m) => m.deliveryId));
    expect(new Set(again!.messages.map((m) => m.deliveryId)).size).toBe(2);
    await again!.ack();
    expect(await q.claim(10)).toBeNull();
  });

  it('a claim right after nack() resolves finds the batch: the nack is applied, not just sent (200 rounds)', async () => {
    // A flushed nack reaches the server but waits in the consumer's ack queue; a pull racing it found nothing
    // (6 of 300 rounds with the cores busy), and a drainer took the queue for empty.
    const q = await queue();
    let misses = 0;
    for (let round = 0; round < 200; round += 1) {
      await q.append([message()]);
      // A stored message reaches the consumer a moment after the publish is acknowledged (the stream signals
      // its consumers asynchronously): this first claim may wait for it. The claim after nack() may not.
      let first = await q.claim(10);
      for (let tries = 0; !first && tries < 100; tries += 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        first = await q.claim(10);
      }
      await first!.nack();
      const again = await q.claim(10);
      if (again) await again.ack();
      else {
        misses += 1;
        // Wait for the late redelivery so the next round starts empty.
        for (let tries = 0; tries < 50; tries += 1) {
          const late = await q.claim(10);
          if (late) {
            await late.ack();
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    }
    expect(misses).toBe(0);
  });

  it('with a nack delay, a released batch comes back only after it (the database is down: no hot loop)', async () => {
    const q = await queue({ nackDelayMs: 700 });
    const sent = [message()];
    await q.append(sent);
    await (await claimAppended(q, 10, 1)).nack();
    expect(await q.claim(10)).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 900));
    const again = await q.claim(10);
    expect(bodies(again)).toEqual(sent);
    await again!.ack();
  });

  it('a claimed batch neither acked nor nacked (a drainer killed mid-way) is delivered again after the lease', async () => {
    const q = await queue({ leaseSeconds: 1 });
    const sent = [message(), message()];
    await q.append(sent);
    const abandoned = await claimAppended(q, 10, 2);
    expect(abandoned?.messages).toHaveLength(2);
    expect(await q.claim(10)).toBeNull();
    // The lease is the server's ack_wait (server time, no clock to inject): wait it out.
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    const redelivered = await q.claim(10);
    expect(bodies(redelivered)).toEqual(sent);
    expect(redelivered!.messages.map((m) => m.deliveryId)).toEqual(abandoned!.messages.map((m) => m.deliveryId));
    await redelivered!.ack();
    expect((await q.lag()).waiting).toBe(0);
  });

  it('a retried publish with the same id is dropped by the duplicate window (one message, one charge)', async () => {
    const q = await queue();
    const m = message();
    await q.append([m]);
    await q.append([m]); // the client's retry after a lost answer
    await q.append([m, message()]);
    const batch = await claimAppended(q, 10, 2);
    expect(batch?.messages.map((x) => x.id).filter((id) => id === m.id)).toHaveLength(1);
    expect(batch?.messages).toHaveLength(2);
    await batch!.ack();
    // Even after the ack removed it: the window remembers the id, a late retry stores nothing.
    await q.append([m]);
    expect(await q.claim(10)).toBeNull();
  });

  it('a full stream refuses with INGEST_QUEUE_FULL (503, retry-after) and stores none of a batch that cannot fit', async () => {
    const q = await queue({ maxMessages: 5, retryAfterSeconds: 2 });
    await q.append([message(), message(), message()]);
    const refused = await q.append([message(), message(), message()]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: 'INGEST_QUEUE_FULL', details: { retryAfterSeconds: 2 } });
    expect((await q.lag()).waiting).toBe(3);
    // Draining makes room again.
    const batch = await claimAppended(q, 10, 3);
    await batch!.ack();
    await q.append([message(), message(), message(), message(), message()]);
    expect((await q.lag()).waiting).toBe(5);
  });

  it('the server itself refuses past max_msgs (discard new) when appenders race past the pre-check', async () => {
    const q = await queue({ maxMessages: 4 });
    // Two appenders at once both see room for their 3 in the cached state; the stream keeps the bound.
    const results = await Promise.allSettled([q.append([message(), message(), message()]), q.append([message(), message(), message()])]);
    const refusals = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    for (const r of refusals) expect(r.reason).toMatchObject({ code: 'INGEST_QUEUE_FULL' });
    expect((await q.lag()).waiting).toBeLessThanOrEqual(4);
  });

  it('the bytes bound refuses too', async () => {
    const q = await queue({ maxBytes: 2_000 });
    const big = (n: number): IngestMessage => message('org_a', { input: { organizationId: 'org_a', eventType: 'x', idempotencyKey: `big-${n}-${randomUUID()}`, eventData: { pad: 'x'.repeat(600) } } });
    await q.append([big(1)]);
    await expect(q.append([big(2), big(3), big(4)])).rejects.toMatchObject({ code: 'INGEST_QUEUE_FULL' });
    expect((await q.lag()).waiting).toBe(1);
  });

  it('the age bound refuses appends while the oldest waiting event is too old, and lag reports its age', async () => {
    const clock = new FakeClock(new Date());
    const q = await queue({ maxAgeSeconds: 60 }, clock);
    await q.append([message()]);
    clock.advance(30_000);
    // Under load the server's state can count the message a moment before it reports its store time (the
    // zero time): that reads as no age (never a refusal), so wait, in real time, for the time to appear.
    let age = 0;
    for (let i = 0; i < 100 && age === 0; i++) {
      age = (await q.lag()).oldestAgeMs;
      if (age === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(age).toBeGreaterThanOrEqual(29_000);
    await q.append([message()]);
    clock.advance(31_000);
    await expect(q.append([message()])).rejects.toMatchObject({ code: 'INGEST_QUEUE_FULL' });
    // Drained: nothing is old any more.
    await (await claimAppended(q, 10, 1)).ack();
    await q.append([message()]);
  });

  it('a publish the server never confirms fails the append (503, never 2xx), and a deleted stream is re-created', async () => {
    const q = await queue();
    await q.append([message()]); // the bounds' cached state is fresh: the next append goes straight to publishing
    // Delete the stream behind the queue's back: the publish has no stream to land in and gets no PubAck.
    const nc = await connect({ servers: [node.url] });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete((q as unknown as { options: JetStreamIngestOptions }).options.stream);
    await nc.close();
    await expect(q.append([message(), message()])).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    // The failure made the queue re-create its stream and consumer (an operator's mistake, a lost store):
    // appends and claims work again without a restart.
    const m = message();
    for (let attempt = 0; ; attempt++) {
      try {
        await q.append([m]);
        break;
      } catch (error) {
        expect(error).toMatchObject({ code: 'SERVICE_UNAVAILABLE' }); // a 503 meanwhile, never a 500
        if (attempt > 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const batch = await claimAppended(q, 10, 1);
    expect(bodies(batch)).toEqual([m]);
    await batch!.ack();
  });

  it('start-up is idempotent on every instance and brings changed bounds up to date', async () => {
    const q = await queue({ maxMessages: 100 });
    const { stream, subjectPrefix } = (q as unknown as { options: JetStreamIngestOptions }).options;
    await queue({ stream, subjectPrefix, maxMessages: 100 });
    await queue({ stream, subjectPrefix, maxMessages: 200, leaseSeconds: 45 });
    const nc = await connect({ servers: [node.url] });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream);
      expect(info.config).toMatchObject({ max_msgs: 200, retention: 'workqueue', discard: 'new', storage: 'file', max_age: 0 });
      const consumer = await jsm.consumers.info(stream, JETSTREAM_INGEST_DEFAULTS.consumer);
      expect(consumer.config).toMatchObject({ ack_policy: 'explicit', ack_wait: 45_000_000_000 });
    } finally {
      await nc.close();
    }
  });

  it('start-up fails loudly (no instance runs without its queue) when no server answers or the replicas cannot be placed', async () => {
    const nobody = `nats://127.0.0.1:${await freePort()}`;
    await expect(queue({ servers: [nobody] })).rejects.toThrow();
    // Three replicas on a single node: JetStream refuses the stream; the start says so instead of running without it.
    await expect(queue({ replicas: 3 })).rejects.toThrow(/replicas|resources|cluster/i);
  });

  it('SIGKILL of the (single) NATS node mid-stream: every acknowledged append is there after it restarts, and the queue reconnects by itself', async () => {
    const own = await startNatsNode();
    let restarted: NatsNode | undefined;
    try {
      const q = await queue({ servers: [own.url], requestTimeoutMs: 1_000 });
      const acknowledged = new Set<string>();
      let stop = false;
      const appenders = Array.from({ length: 16 }, async () => {
        while (!stop) {
          const batch = [message(), message()];
          try {
            await q.append(batch);
            for (const m of batch) acknowledged.add(m.id);
          } catch {
            return; // the node is gone: this batch was answered 503, its client would retry
          }
        }
      });
      while (acknowledged.size < 2_000) await new Promise((resolve) => setTimeout(resolve, 10));
      own.child.kill('SIGKILL');
      stop = true;
      await own.exited;
      await Promise.all(appenders);
      restarted = await startNatsNode({ port: own.port, storeDir: own.storeDir });
      const claimed = new Set<string>();
      const deadline = Date.now() + 20_000;
      while (claimed.size < acknowledged.size && Date.now() < deadline) {
        const batch = await q.claim(1_000).catch(() => null);
        if (!batch) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        for (const m of batch.messages) claimed.add(m.id);
        await batch.ack();
      }
      expect([...acknowledged].filter((id) => !claimed.has(id))).toEqual([]);
    } finally {
      if (restarted) await stopNatsNode(restarted);
      else await stopNatsNode(own);
    }
  }, 60_000);

  it('the largest event the API accepts (eventData at its limit, a 255-character key) is stored and claimed intact', async () => {
    const q = await queue({ maxBytes: 1024 ** 2 });
    const idempotencyKey = 'k'.repeat(255);
    const organizationId = 'o'.repeat(64);
    // eventData of exactly MAX_EVENT_DATA_BYTES bytes of JSON (the '{"pad":""}' wrapper is 10 bytes).
    const eventData = { pad: 'x'.repeat(MAX_EVENT_DATA_BYTES - 10) };
    expect(Buffer.byteLength(JSON.stringify(eventData))).toBe(MAX_EVENT_DATA_BYTES);
    const big: IngestMessage = {
      id: `${organizationId}:${idempotencyKey}`,
      input: { organizationId, eventType: 'e'.repeat(100), eventData, idempotencyKey, userId: 'u'.repeat(255), context: { endpoint: 'POST /x', userAgent: 'a'.repeat(1024), ip: '::1' } },
      receiptId: 'r'.repeat(64),
      enqueuedAt: new Date().toISOString(),
    };
    await q.append(Array.from({ length: 20 }, (_, i) => ({ ...big, id: `${big.id}-${i}` })));
    const batch = await claimAppended(q, 100, 20);
    expect(batch?.messages).toHaveLength(20);
    expect(bodies(batch)?.[0]).toEqual({ ...big, id: `${big.id}-0` });
    await batch!.ack();
  });

  it('organizations get their own subject, even with characters subjects cannot hold', async () => {
    expect(organizationToken('0b5c2a4e-8c1f-4d7a-9a55-3c2f1f0e9b11')).toBe('0b5c2a4e-8c1f-4d7a-9a55-3c2f1f0e9b11');
    expect(organizationToken('a.b')).not.toContain('.');
    expect(organizationToken('a.b')).not.toBe(organizationToken('a_b'));
    const q = await queue();
    await q.append([message('acme.eu *>'), message('org_x')]);
    const batch = await claimAppended(q, 10, 2);
    expect(batch?.messages.map((m) => m.input.organizationId)).toEqual(['acme.eu *>', 'org_x']);
    await batch!.ack();
  });

  it('a message somebody published by hand on the subject is terminated, not delivered forever', async () => {
    const q = await queue();
    const { subjectPrefix } = (q as unknown as { options: JetStreamIngestOptions }).options;
    const nc = await connect({ servers: [node.url] });
    await jetstream(nc).publish(`${subjectPrefix}.org_a`, 'not json');
    await jetstream(nc).publish(`${subjectPrefix}.org_a`, JSON.stringify({ eventType: 'x' }));
    await nc.close();
    const good = message();
    await q.append([good]);
    const batch = await claimAppended(q, 10, 1);
    expect(bodies(batch)).toEqual([good]);
    await batch!.ack();
    expect(await q.claim(10)).toBeNull();
  });
});
