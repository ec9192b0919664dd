#!/usr/bin/env node
/**
 * Builds the service (`npm run build:service`) only when it has to: no build yet, or a source file newer than the
 * last build. `npm install` builds once (the `prepare` script runs this with --install); `npm start` runs it
 * first (`prestart`), and when nothing changed it costs a walk over the sources' modification times (a few
 * milliseconds), so a restart is the service's own boot, not a rebuild.
 *
 *   node scripts/ensure-built.mjs            build if stale (a failed build fails)
 *   node scripts/ensure-built.mjs --install  the same, but a production install without the compiler
 *                                            (npm ci --omit=dev) is told how to build and does not fail
 *   node scripts/ensure-built.mjs --check    exit 0 when the build is current, 1 when stale (builds nothing)
 *   node scripts/ensure-built.mjs --force    build whatever the stamp says (`npm run build`): every complete
 *                                            build leaves the stamp, so the next `npm start` does not rebuild
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Written after a successful build, with the time the build started (a file saved during it is newer). */
export const STAMP = join(ROOT, 'dist', '.build-stamp');
/** What the build reads (tsconfig.build.json's include, the dashboard), and what it must have produced. */
const SOURCE_DIRS = ['src', 'libs', 'migrations', 'seeds', 'bench', 'dashboard'];
const SOURCE_FILES = ['tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'];
const SKIP = new Set(['node_modules', 'dist', 'nest-client', 'results']);
const OUTPUTS = [join('dist', 'src', 'main.js'), join('dist', 'dashboard', 'index.html')];

/** The newest modification time among the sources, and the file it belongs to. */
export function newestSource(root = ROOT) {
  let newest = { mtimeMs: 0, file: '' };
  const visit = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (/\.(ts|mts|mjs|js|json|css|html)$/.test(entry.name)) {
        const { mtimeMs } = statSync(path);
        if (mtimeMs > newest.mtimeMs) newest = { mtimeMs, file: path };
      }
    }
  };
  for (const dir of SOURCE_DIRS) visit(join(root, dir));
  for (const file of SOURCE_FILES) {
    const path = join(root, file);
    if (existsSync(path) && statSync(path).mtimeMs > newest.mtimeMs) newest = { mtimeMs: statSync(path).mtimeMs, file: path };
  }
  return newest;
}

/** Why a build is needed, or undefined when dist/ is current. */
export function staleReason(root = ROOT) {
  const missing = OUTPUTS.find((file) => !existsSync(join(root, file)));
  if (missing) return `${missing} does not exist`;
  const stamp = join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp)) return 'no record of a complete build';
  const newest = newestSource(root);
  if (newest.mtimeMs > statSync(stamp).mtimeMs) return `${relative(root, newest.file)} changed since the last build`;
  return undefined;
}

function main() {
  const args = new Set(process.argv.slice(2));
  const reason = staleReason();
  if (args.has('--check')) {
    if (reason) console.log(`stale: ${reason}`);
    process.exit(reason ? 1 : 0);
  }
  const why = args.has('--force') ? 'asked for' : reason;
  if (!why) return;
  if (!existsSync(join(ROOT, 'node_modules', '@nestjs', 'cli')) || !existsSync(join(ROOT, 'node_modules', 'esbuild'))) {
    const message = 'The build tools (devDependencies) are not installed: run `npm install`, then `npm run build`.';
    if (args.has('--install')) {
      console.log(`${message} (skipped the build)`);
      return;
    }
    console.error(`Cannot build (${why}). ${message}`);
    process.exit(1);
  }
  if (!args.has('--force')) console.log(`Building the service (${reason}); later starts reuse the build until a source changes.`);
  const startedAt = new Date();
  const npm = process.env.npm_execpath;
  const run = npm && /\.(c|m)?js$/.test(npm) ? spawnSync(process.execPath, [npm, 'run', 'build:service'], { cwd: ROOT, stdio: 'inherit' }) : spawnSync('npm', ['run', 'build:service'], { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  if (run.status !== 0) {
    console.error('The build failed: fix the error above (the previous build, if any, is left as it was).');
    process.exit(run.status ?? 1);
  }
  writeFileSync(STAMP, `${JSON.stringify({ builtAt: new Date().toISOString(), startedAt: startedAt.toISOString() })}\n`);
  // The stamp carries the time the build started: a file saved while it ran makes the next start rebuild.
  utimesSync(STAMP, startedAt, startedAt);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
