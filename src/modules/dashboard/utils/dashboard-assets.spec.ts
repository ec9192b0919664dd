import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { assetDirCandidates, assetKeyFor, contentTypeOf, findAssetDir, loadAssets } from './dashboard-assets';

describe('dashboard assets', () => {
  it.each([
    [undefined, 'index.html'],
    ['', 'index.html'],
    ['/', 'index.html'],
    ['app.js', 'app.js'],
    ['assets/app.css', 'assets/app.css'],
    ['org/demo-org', 'index.html'],
    ['../package.json', undefined],
    ['a/../../x.js', undefined],
    ['./app.js', undefined],
  ])('maps %p to %p', (path, key) => {
    expect(assetKeyFor(path)).toBe(key);
  });

  it('names content types', () => {
    expect(contentTypeOf('index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeOf('app.js')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeOf('app.css')).toBe('text/css; charset=utf-8');
    expect(contentTypeOf('blob.bin')).toBe('application/octet-stream');
  });

  it('looks in DASHBOARD_DIR, next to the compiled service, then under dist/ of the working directory', () => {
    expect(assetDirCandidates({ DASHBOARD_DIR: 'build/ui' }, '/srv/app/dist/src/main.js', '/srv/app')).toEqual([
      resolve('/srv/app/build/ui'),
      resolve('/srv/app/dist/dashboard'),
      resolve('/srv/app/dist/dashboard'),
    ]);
    expect(assetDirCandidates({}, undefined, '/w')).toEqual([resolve('/w/dist/dashboard')]);
  });

  it('loads a built folder with stable ETags, and finds only folders that hold index.html', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-assets-'));
    try {
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 'index.html'), '<!doctype html>');
      writeFileSync(join(dir, 'sub', 'x.js'), 'console.log(1)');
      const assets = loadAssets(dir);
      expect([...assets.keys()].sort()).toEqual(['index.html', 'sub/x.js']);
      expect(assets.get('sub/x.js')?.contentType).toBe('text/javascript; charset=utf-8');
      expect(assets.get('index.html')?.etag).toBe(loadAssets(dir).get('index.html')?.etag);
      expect(findAssetDir([join(dir, 'sub'), dir])).toBe(dir);
      expect(findAssetDir([join(dir, 'missing')])).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
