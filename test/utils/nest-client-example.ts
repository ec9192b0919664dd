import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './service-process';

const ROOT = process.cwd();
export const CLIENT_DIR = join(ROOT, 'libs', 'nest-client');
export const EXAMPLE_DIR = join(ROOT, 'examples', 'nest-express');

/** Held while one suite packs, installs and builds the example; other suites (other jest workers) wait. */
const BUILD_LOCK = join(EXAMPLE_DIR, '.build-lock');
/** Which test run built the example last, and the tarball it installed. */
const BUILD_STAMP = join(EXAMPLE_DIR, '.build-run');
const LOCK_WAIT_MS = 10 * 60_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * One build of the example at a time, across jest's worker processes: two suites that use it (the client
 * package's and its streaming suite) ran at once, and one's rebuild deleted dist/ under the other (CI saw
 * "Cannot find module …/dist/plain-client.js"). A lock left by a killed run is taken over after LOCK_WAIT_MS.
 */
function withBuildLock<T>(build: () => T): T {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = (() => {
        try {
          return Date.now() - statSync(BUILD_LOCK).mtimeMs;
        } catch {
          return 0;
        }
      })();
      if (age > LOCK_WAIT_MS) rmSync(BUILD_LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`the example's build lock ${BUILD_LOCK} was held for ${LOCK_WAIT_MS} ms`, { cause: error });
      else sleepSync(200);
    }
  }
  try {
    return build();
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}

/**
 * What a user does, in order: `npm pack` the client (its prepack script compiles it), `npm install` the
 * tarball into the example (its package.json names the tarball; no registry: the package has no dependency,
 * and its peers resolve from this repository's node_modules, one @nestjs/core), then build the example.
 * Once per test run (jest's workers share their parent process): a second suite of the same run uses the
 * build the first one made.
 */
export function packAndInstallClient(): string {
  return withBuildLock(() => {
    const run = String(process.ppid);
    if (existsSync(BUILD_STAMP) && existsSync(join(EXAMPLE_DIR, 'dist', 'main.js'))) {
      const stamp = JSON.parse(readFileSync(BUILD_STAMP, 'utf8')) as { run: string; packed: string };
      if (stamp.run === run) return stamp.packed;
    }
    const packed = execFileSync('npm', ['pack', '--silent'], { cwd: CLIENT_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!;
    rmSync(join(EXAMPLE_DIR, 'node_modules'), { recursive: true, force: true });
    rmSync(join(EXAMPLE_DIR, 'dist'), { recursive: true, force: true });
    execFileSync('npm', ['install', '--offline', '--no-package-lock', '--legacy-peer-deps', '--no-audit', '--no-fund', '--silent'], { cwd: EXAMPLE_DIR, stdio: 'pipe' });
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(EXAMPLE_DIR, 'tsconfig.json')], { cwd: EXAMPLE_DIR, stdio: 'pipe' });
    const path = join(CLIENT_DIR, packed);
    writeFileSync(BUILD_STAMP, JSON.stringify({ run, packed: path }));
    return path;
  });
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
