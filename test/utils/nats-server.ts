import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './service-process';

/**
 * A `nats-server` process of a test's own, on a free port with a temporary store folder: never the machine's
 * NATS on 4222, which other suites may use.
 */
export function natsServerBinary(): string | undefined {
  for (const candidate of [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('which', ['nats-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface NatsNode {
  name: string;
  port: number;
  url: string;
  storeDir: string;
  child: ChildProcess;
  output: () => string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

export interface NatsNodeOptions {
  name?: string;
  port?: number;
  storeDir?: string;
  /** Extra arguments (cluster flags). */
  args?: string[];
}

function waitForPort(port: number, timeoutMs: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null) return reject(new Error(`nats-server exited (${child.exitCode}):\n${output()}`));
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nats-server did not listen on ${port}:\n${output()}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Starts `nats-server -js` and waits until it accepts connections. */
export async function startNatsNode(options: NatsNodeOptions = {}): Promise<NatsNode> {
  const binary = natsServerBinary();
  if (!binary) throw new Error('nats-server is not installed');
  const port = options.port ?? (await freePort());
  const name = options.name ?? `test-${port}`;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'nats-js-'));
  let output = '';
  const child = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, '-n', name, ...(options.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, 10_000, child, () => output);
  return { name, port, url: `nats://127.0.0.1:${port}`, storeDir, child, output: () => output, exited };
}

/** Stops a node (SIGTERM, then SIGKILL after a grace) and, unless kept, removes its store. */
export async function stopNatsNode(node: NatsNode, { keepStore = false } = {}): Promise<void> {
  if (node.child.exitCode === null && node.child.signalCode === null) {
    node.child.kill('SIGTERM');
    const timer = setTimeout(() => node.child.kill('SIGKILL'), 5_000);
    await node.exited;
    clearTimeout(timer);
  }
  if (!keepStore) rmSync(node.storeDir, { recursive: true, force: true });
}

/** SIGKILL: the crash a test means, no shutdown work. */
export async function killNatsNode(node: NatsNode): Promise<void> {
  if (node.child.exitCode === null && node.child.signalCode === null) {
    node.child.kill('SIGKILL');
    await node.exited;
  }
}
