import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';

/** One built file, held in memory: the dashboard is a few hundred kilobytes at most. */
export interface DashboardAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Where the built dashboard may be, in order: DASHBOARD_DIR; next to the compiled service
 * (`node dist/src/main.js` -> `dist/dashboard`); `dist/dashboard` under the working directory (tests, which
 * run the TypeScript sources).
 */
export function assetDirCandidates(env: NodeJS.ProcessEnv, entryScript: string | undefined, cwd: string): string[] {
  const candidates: string[] = [];
  if (env.DASHBOARD_DIR) candidates.push(resolve(cwd, env.DASHBOARD_DIR));
  if (entryScript) candidates.push(resolve(dirname(entryScript), '..', 'dashboard'));
  candidates.push(resolve(cwd, 'dist', 'dashboard'));
  return candidates;
}

/** The first candidate holding an index.html, or undefined when the dashboard was never built. */
export function findAssetDir(candidates: string[]): string | undefined {
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

/** Reads every file under `dir`, keyed by its URL path relative to the dashboard root ("app.js", "index.html"). */
export function loadAssets(dir: string): Map<string, DashboardAsset> {
  const assets = new Map<string, DashboardAsset>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const body = readFileSync(path);
      const key = relative(dir, path).split(sep).join('/');
      assets.set(key, { body, contentType: contentTypeOf(path), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
    }
  };
  walk(dir);
  return assets;
}

/**
 * Which asset answers a request path under /dashboard. Files are looked up by exact key in the map (never
 * on disk), so `..` or encoded slashes cannot reach outside the built folder. Paths without a file
 * extension are client-side routes: they get index.html. A missing file with an extension is undefined (404).
 */
export function assetKeyFor(path: string | undefined): string | undefined {
  const clean = (path ?? '').replace(/^\/+/, '');
  if (clean === '') return 'index.html';
  if (clean.split('/').some((segment) => segment === '..' || segment === '.')) return undefined;
  return extname(clean) === '' ? 'index.html' : clean;
}
