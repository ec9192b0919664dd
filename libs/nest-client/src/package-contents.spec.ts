import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGE_DIR = join(process.cwd(), 'libs', 'nest-client');

interface PackResult {
  name: string;
  version: string;
  files: Array<{ path: string; size: number }>;
}

/**
 * What a user downloads: `npm pack --dry-run --json` (its prepack compiles the package) lists the tarball's
 * files. The compiled client and its declarations, the contract types it imports, README, CHANGELOG and
 * LICENSE; never a test, a TypeScript source, a source map or the repository's generated API schemas.
 */
describe('the published tarball of @credit-metering/nest-client', () => {
  it('holds the compiled package, its README, CHANGELOG and LICENSE, and nothing else', () => {
    const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts=false'], { cwd: PACKAGE_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as PackResult[];
    const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pack.name).toBe('@credit-metering/nest-client');
    expect(pack.version).toBe(manifest.version);
    expect(manifest.license).toBe('MIT');
    expect(manifest.license).not.toBe('UNLICENSED');

    const paths = pack.files.map((f) => f.path).sort();
    for (const required of ['README.md', 'CHANGELOG.md', 'LICENSE', 'package.json', 'dist/nest-client/src/index.js', 'dist/nest-client/src/index.d.ts', 'dist/nest-client/src/client.js', 'dist/nest-client/src/client.d.ts', 'dist/contracts/src/error-codes.js']) {
      expect(paths).toContain(required);
    }
    // Every export the manifest names is in the tarball.
    const exported = Object.values(manifest.exports as Record<string, string | Record<string, string>>).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)));
    for (const target of exported) expect(paths).toContain(target.replace(/^\.\//, ''));
    const unexpected = paths.filter((p) => !['README.md', 'CHANGELOG.md', 'LICENSE', 'package.json'].includes(p) && !/^dist\/(nest-client|contracts)\/src\/[a-z0-9.-]+\.(js|d\.ts)$/.test(p));
    expect(unexpected).toEqual([]);
    expect(paths.filter((p) => /\.spec\.|\.test\.|\.map$|\.tsbuildinfo$|(?<!\.d)\.ts$/.test(p))).toEqual([]);
    // The client needs the error codes and tracking types, not the service's whole generated API schema.
    expect(paths.filter((p) => p.includes('generated'))).toEqual([]);
    // The README is the package's own: install, the key, configuration, fail modes, an example.
    const readme = readFileSync(join(PACKAGE_DIR, 'README.md'), 'utf8');
    for (const heading of ['## Install', '## The API key', '## Configuration', '## Fail modes', '## Without Nest']) expect(readme).toContain(heading);
    expect(readFileSync(join(PACKAGE_DIR, 'CHANGELOG.md'), 'utf8')).toContain(`## ${String(manifest.version)}`);
  }, 180_000);
});
