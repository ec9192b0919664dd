import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './service-process';

const ROOT = process.cwd();
export const CLIENT_DIR = join(ROOT, 'libs', 'nest-client');
export const EXAMPLE_DIR = join(ROOT, 'examples', 'nest-express');

/**
 * What a user does, in order: `npm pack` the client (its prepack script compiles it), `npm install` the
 * tarball into the example (its package.json names the tarball; no registry: the package has no dependency,
 * and its peers resolve from this repository's node_modules, one @nestjs/core), then build the example.
 */
export function packAndInstallClient(): string {
  const packed = execFileSync('npm', ['pack', '--silent'], { cwd: CLIENT_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!;
  rmSync(join(EXAMPLE_DIR, 'node_modules'), { recursive: true, force: true });
  rmSync(join(EXAMPLE_DIR, 'dist'), { recursive: true, force: true });
  execFileSync('npm', ['install', '--offline', '--no-package-lock', '--legacy-peer-deps', '--no-audit', '--no-fund', '--silent'], { cwd: EXAMPLE_DIR, stdio: 'pipe' });
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(EXAMPLE_DIR, 'tsconfig.json')], { cwd: EXAMPLE_DIR, stdio: 'pipe' });
  return join(CLIENT_DIR, packed);
}

export interface ExampleApp {
  baseUrl: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts the example (`node dist/main.js`) against the service and waits until it answers. */
export async function startExample(env: Record<string, string>): Promise<ExampleApp> {
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, [join(EXAMPLE_DIR, 'dist', 'main.js')], { cwd: EXAMPLE_DIR, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`example exited early (${child.exitCode}): ${output}`);
    try {
      if ((await fetch(`${baseUrl}/ai/calls`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`example did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseUrl,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
