import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { freePort } from './service-process';
import { killNatsNode, NatsNode, startNatsNode, stopNatsNode } from './nats-server';

/**
 * A JetStream cluster of `size` (3) `nats-server` processes on this machine: free client and route ports,
 * one temporary store folder each, every node routed to the others. Nodes can be SIGKILLed and restarted
 * on the same ports and store, as a crashed machine that comes back.
 */
export interface NatsCluster {
  name: string;
  nodes: NatsNode[];
  /** Every node's client URL: give them all to a client, it moves to a live one when its node dies. */
  urls: string[];
  kill(index: number): Promise<void>;
  restart(index: number): Promise<NatsNode>;
  /** The node (index) leading a stream's replicas, or -1 while none does. */
  streamLeader(stream: string): Promise<number>;
  stop(): Promise<void>;
}

interface NodePlan {
  name: string;
  port: number;
  routePort: number;
  storeDir: string;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const name = `test-cluster-${Math.random().toString(36).slice(2, 8)}`;
  const root = mkdtempSync(join(tmpdir(), 'nats-cluster-'));
  const plans: NodePlan[] = [];
  for (let i = 0; i < size; i++) {
    plans.push({ name: `n${i + 1}`, port: await freePort(), routePort: await freePort(), storeDir: join(root, `n${i + 1}`) });
  }
  const start = (plan: NodePlan): Promise<NatsNode> =>
    startNatsNode({
      name: plan.name,
      port: plan.port,
      storeDir: plan.storeDir,
      args: [
        '--cluster_name',
        name,
        '--cluster',
        `nats://127.0.0.1:${plan.routePort}`,
        '--routes',
        plans
          .filter((other) => other !== plan)
          .map((other) => `nats://127.0.0.1:${other.routePort}`)
          .join(','),
      ],
    });
  const nodes = await Promise.all(plans.map(start));
  const urls = nodes.map((node) => node.url);
  const cluster: NatsCluster = {
    name,
    nodes,
    urls,
    kill: (index) => killNatsNode(nodes[index]),
    restart: async (index) => {
      nodes[index] = await start(plans[index]);
      return nodes[index];
    },
    streamLeader: async (stream) => {
      const nc = await connect({ servers: urls, timeout: 2_000 });
      try {
        const info = await (await jetstreamManager(nc, { timeout: 2_000 })).streams.info(stream);
        return plans.findIndex((plan) => plan.name === info.cluster?.leader);
      } catch {
        return -1;
      } finally {
        await nc.close();
      }
    },
    stop: async () => {
      await Promise.all(nodes.map((node) => stopNatsNode(node, { keepStore: true })));
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await waitForJetStreamCluster(urls, size);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/**
 * Waits until the cluster has a JetStream meta leader and every peer can take a replica: an R`size` probe
 * stream is created (retried while the server answers "insufficient resources" or times out) and deleted.
 */
export async function waitForJetStreamCluster(urls: string[], size: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers: urls, timeout: 5_000, maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
    const probe = `PROBE_${Math.random().toString(36).slice(2, 8)}`;
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        await jsm.streams.add({ name: probe, subjects: [`probe.${probe}`], num_replicas: size, storage: StorageType.Memory, retention: RetentionPolicy.Limits });
        await jsm.streams.delete(probe);
        return;
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    throw new Error(`JetStream cluster not ready after ${timeoutMs} ms: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  } finally {
    await nc.close();
  }
}
