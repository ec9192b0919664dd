import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { IngestMessage } from '../src/modules/ingest/ingest-queue.types';
import { JETSTREAM_INGEST_DEFAULTS, JetStreamIngestQueue } from '../src/modules/ingest/jetstream-ingest-queue';
import { NatsCluster, startNatsCluster } from './utils/nats-cluster';
import { natsServerBinary } from './utils/nats-server';

/**
 * Three `nats-server` processes as a JetStream cluster on this machine, an R3 stream, publishers and a drainer
 * under load, and the SIGKILL of the node leading the stream mid-way: every append that resolved (the answer
 * a client would have got as 202) is claimed, and after dropping redeliveries (the ledger's idempotency key
 * does that) exactly once. Appends that failed are retried with the same ids, as a client does after a 503.
 * At the same moment a drainer instance dies holding a claimed batch: the others get it after the lease.
 */
const describeWithNats = natsServerBinary() ? describe : describe.skip;

describeWithNats('JetStream ingest queue on a three-node cluster', () => {
  let cluster: NatsCluster;

  beforeAll(async () => {
    // The queue's warnings (failed publishes, terminated messages) are what these tests provoke: keep the output to results.
    Logger.overrideLogger(false);
    cluster = await startNatsCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('SIGKILL of the stream leader and of a drainer holding a batch, under load: every acknowledged append is claimed exactly once after dedupe', async () => {
    const stream = `CL_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    const options = {
      ...JETSTREAM_INGEST_DEFAULTS,
      servers: cluster.urls,
      stream,
      subjectPrefix: `cl.${stream}`,
      replicas: 3,
      maxMessages: 1_000_000,
      maxBytes: 256 * 1024 * 1024,
      maxAgeSeconds: 0,
      leaseSeconds: 5,
      requestTimeoutMs: 2_000,
    };
    // Two service instances: one appends, both drain (the consumer is shared).
    const appender = await JetStreamIngestQueue.connect({ ...options, connectionName: 'appender' });
    const drainer = await JetStreamIngestQueue.connect({ ...options, connectionName: 'drainer' });
    // A third instance that dies (SIGKILL, simulated: no ack, the connection cut) holding a claimed batch.
    const victim = await JetStreamIngestQueue.connect({ ...options, connectionName: 'victim' });
    try {
      const acknowledged = new Set<string>();
      const claimed: string[] = [];
      let failedAppends = 0;
      let stopDraining = false;
      let pauseDraining = false;

      const drain = async (queue: JetStreamIngestQueue): Promise<void> => {
        while (!stopDraining) {
          if (pauseDraining) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            continue;
          }
          const batch = await queue.claim(200).catch(() => null);
          if (!batch) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            continue;
          }
          claimed.push(...batch.messages.map((m) => m.id));
          // The ledger write would be here. An ack lost in the failover only means a redelivery.
          await batch.ack().catch(() => undefined);
        }
      };

      const publisher = async (worker: number, batches: number): Promise<void> => {
        for (let b = 0; b < batches; b++) {
          const messages: IngestMessage[] = Array.from({ length: 10 }, (_, i) => {
            const idempotencyKey = `w${worker}-b${b}-m${i}`;
            return { id: `org_${worker}:${idempotencyKey}`, input: { organizationId: `org_${worker}`, eventType: 'ai_call', idempotencyKey }, enqueuedAt: new Date().toISOString() };
          });
          // A client retries a 503 with the same idempotency keys until it gets its 202.
          for (let attempt = 0; ; attempt++) {
            try {
              await appender.append(messages);
              for (const m of messages) acknowledged.add(m.id);
              break;
            } catch (error) {
              failedAppends += 1;
              if (attempt > 60) throw error;
              await new Promise((resolve) => setTimeout(resolve, 250));
            }
          }
        }
      };

      // The victim drains with the others until the crash, then claims one batch and dies holding it. The other
      // drainers pause while it claims, so a batch is there for it whatever the timing: a victim that only
      // crashed on the next batch it happened to win could wait forever once the others had taken everything.
      let victimStops = false;
      const victimDrains = (async () => {
        while (!victimStops) {
          const batch = await victim.claim(200).catch(() => null);
          if (!batch) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            continue;
          }
          claimed.push(...batch.messages.map((m) => m.id));
          await batch.ack().catch(() => undefined);
        }
      })();

      const draining = [drain(drainer), drain(appender)];
      const publishing = [0, 1, 2, 3].map((w) => publisher(w, 150));

      // Mid-stream: once a third is acknowledged, the victim takes a batch, then the node leading the stream
      // and the victim are killed (the victim between claim and commit: its batch neither written nor acknowledged).
      while (acknowledged.size < 2_000) await new Promise((resolve) => setTimeout(resolve, 10));
      victimStops = true;
      await victimDrains;
      pauseDraining = true;
      let abandoned: string[] = [];
      for (const claimDeadline = Date.now() + 30_000; abandoned.length === 0; ) {
        if (Date.now() > claimDeadline) throw new Error('the victim found no batch to claim in 30 s while the publishers were sending');
        const batch = await victim.claim(200).catch(() => null);
        if (batch && batch.messages.length > 0) abandoned = batch.messages.map((m) => m.id);
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const leader = await cluster.streamLeader(stream);
      expect(leader).toBeGreaterThanOrEqual(0);
      await cluster.kill(leader);
      await (victim as unknown as { nc: { close(): Promise<void> } }).nc.close();
      pauseDraining = false;
      const killedAt = acknowledged.size;

      await Promise.all(publishing);
      expect(acknowledged.size).toBe(6_000);
      expect(killedAt).toBeLessThan(6_000);

      // Drain to the end (a redelivery after the lease may still come: wait past it while anything waits).
      const deadline = Date.now() + 60_000;
      const drainStarted = Date.now();
      let lagFailures = 0;
      while (Date.now() < deadline) {
        const lag = await drainer.lag().catch(() => {
          lagFailures += 1;
          return undefined;
        });
        if (lag?.waiting === 0 && new Set(claimed).size >= acknowledged.size) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      stopDraining = true;
      await Promise.all(draining);
      // The dead instance's batch came back to the others after the lease.
      expect(abandoned.length).toBeGreaterThan(0);
      expect(abandoned.every((id) => claimed.includes(id))).toBe(true);

      const distinct = new Set(claimed);
      const missing = [...acknowledged].filter((id) => !distinct.has(id));
      expect(missing).toEqual([]);
      // Nothing claimed that no append sent (every claimed id is one of ours).
      expect([...distinct].every((id) => acknowledged.has(id))).toBe(true);
      expect(distinct.size).toBe(acknowledged.size);
      // Redeliveries happen only around the failover, and the ledger's idempotency keys absorb them.
      console.log(`cluster failover: ${acknowledged.size} acknowledged, ${claimed.length - distinct.size} redelivered, ${failedAppends} appends retried, node ${leader + 1} killed after ${killedAt}, ${abandoned.length} claimed by the killed instance; drained to the end in ${Date.now() - drainStarted} ms (${lagFailures} lag reads failed)`);

      // The killed node comes back and catches up; the stream still has its three replicas.
      await cluster.restart(leader);
    } finally {
      await appender.close();
      await drainer.close();
      await victim.close();
    }
  }, 180_000);
});
