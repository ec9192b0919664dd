// nats-server processes of the benchmark's own (free ports, temporary stores), never the machine's NATS on 4222:
// one node, or a three-node JetStream cluster. The same shapes as test/utils/nats-server.ts and nats-cluster.ts.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort, sleep } from './service.mjs';

export function natsServerBinary() {
  for (const candidate of [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('which', ['nats-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export function natsServerVersion() {
  const binary = natsServerBinary();
  return binary ? execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim() : null;
}

async function waitForPort(port, child, output, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}):\n${output()}`);
    const ok = await new Promise((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => (socket.destroy(), resolve(false)));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port}:\n${output()}`);
    await sleep(50);
  }
}

/** Starts `nats-server -js`; returns {url, pid, stop()}. */
export async function startNatsNode({ name, port, storeDir, args = [] } = {}) {
  const binary = natsServerBinary();
  if (!binary) throw new Error('nats-server is not installed');
  port ??= await freePort();
  const ownStore = storeDir === undefined;
  storeDir ??= mkdtempSync(join(tmpdir(), 'bench-nats-'));
  let output = '';
  const child = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, '-n', name ?? `bench-${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitForPort(port, child, () => output);
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }
      if (ownStore) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** Three nodes routed to each other, ready when an R3 probe stream can be created. */
export async function startNatsCluster(size = 3) {
  const clusterName = `bench-${Math.random().toString(36).slice(2, 8)}`;
  const root = mkdtempSync(join(tmpdir(), 'bench-nats-cluster-'));
  const plans = [];
  for (let i = 0; i < size; i++) plans.push({ name: `n${i + 1}`, port: await freePort(), routePort: await freePort(), storeDir: join(root, `n${i + 1}`) });
  const nodes = await Promise.all(
    plans.map((p) =>
      startNatsNode({
        name: p.name,
        port: p.port,
        storeDir: p.storeDir,
        args: ['--cluster_name', clusterName, '--cluster', `nats://127.0.0.1:${p.routePort}`, '--routes', plans.filter((o) => o !== p).map((o) => `nats://127.0.0.1:${o.routePort}`).join(',')],
      }),
    ),
  );
  const urls = nodes.map((n) => n.url);
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  const nc = await connect({ servers: urls, maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await jsm.streams.add({ name: 'PROBE', subjects: ['probe'], num_replicas: size, storage: 'memory' });
        await jsm.streams.delete('PROBE');
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          await stop();
          throw error;
        }
        await sleep(250);
      }
    }
  } finally {
    await nc.close();
  }
  return { urls, pids: nodes.map((n) => n.pid), stop };
}
