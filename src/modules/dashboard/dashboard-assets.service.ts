import { Injectable, Logger } from '@nestjs/common';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { assetDirCandidates, assetKeyFor, findAssetDir, loadAssets } from './utils/dashboard-assets';
import type { DashboardAsset } from './utils/dashboard-assets';

export interface AssetResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/**
 * The page calls only this origin's API, loads only its own scripts and styles (no CDN), and is never
 * framed. Helmet's default policy also says `upgrade-insecure-requests`, which would send the page's own
 * script requests to https:// when the service is opened over plain http on a LAN address.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = 'The dashboard is not built. Run `npm run build` (it bundles dashboard/ into dist/dashboard), then reload.';

/** Serves the built dashboard (dist/dashboard) from memory, with ETags. */
@Injectable()
export class DashboardAssetsService {
  private readonly logger = new Logger('Dashboard');
  private loaded: { dir: string; stamp: number; assets: Map<string, DashboardAsset> } | undefined;

  /** `path` is the request path below /dashboard; `ifNoneMatch` the request's If-None-Match header. */
  respond(path: string | undefined, ifNoneMatch: string | undefined): AssetResponse {
    const assets = this.load();
    const common = { 'content-security-policy': DASHBOARD_CSP, 'cache-control': 'no-cache' };
    if (!assets) return { statusCode: 503, headers: { ...common, 'content-type': 'text/plain; charset=utf-8' }, body: NOT_BUILT };
    const key = assetKeyFor(path);
    const asset = key === undefined ? undefined : assets.get(key);
    if (!asset) return { statusCode: 404, headers: { ...common, 'content-type': 'text/plain; charset=utf-8' }, body: 'Not found' };
    const headers = { ...common, 'content-type': asset.contentType, etag: asset.etag };
    if (ifNoneMatch === asset.etag) return { statusCode: 304, headers, body: '' };
    return { statusCode: 200, headers, body: asset.body };
  }

  /**
   * Loaded on first use, and again whenever index.html changes (the build writes it last), so a rebuild
   * shows without a restart; a missing build is looked for again on the next request.
   */
  private load(): Map<string, DashboardAsset> | undefined {
    const dir = this.loaded?.dir ?? findAssetDir(assetDirCandidates(process.env, process.argv[1], process.cwd()));
    if (!dir) return undefined;
    const stamp = indexStamp(dir);
    if (stamp === undefined) {
      this.loaded = undefined;
      return undefined;
    }
    if (this.loaded?.stamp !== stamp) {
      this.loaded = { dir, stamp, assets: loadAssets(dir) };
      this.logger.log(`Serving the dashboard from ${dir} (${this.loaded.assets.size} files)`);
    }
    return this.loaded.assets;
  }
}

function indexStamp(dir: string): number | undefined {
  try {
    return statSync(join(dir, 'index.html')).mtimeMs;
  } catch {
    return undefined;
  }
}
