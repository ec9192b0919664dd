import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// semver comes with npm's own tooling (no type declarations installed): only these two calls are used.
const semver = createRequire(join(process.cwd(), 'package.json'))('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

interface Lock {
  packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } | string[] }>;
}

/**
 * `engines` tells the truth: the oldest Node.js of every line it names (22 and 24) satisfies the `engines`
 * of every package installed from the lock file, run-time and development alike (else npm install prints
 * EBADENGINE there, and a package may use what that Node.js lacks).
 */
describe('package.json engines', () => {
  const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { engines: { node: string } };
  const lock = JSON.parse(readFileSync(join(process.cwd(), 'package-lock.json'), 'utf8')) as Lock;
  const lines = pkg.engines.node.split('||').map((part) => semver.minVersion(part.trim())!.version);

  it('names Node.js 22 and 24', () => {
    expect(lines.map((v) => v.split('.')[0]).sort()).toEqual(['22', '24']);
  });

  it.each(lines)('every installed package accepts Node.js %s', (version) => {
    const refusing = Object.entries(lock.packages)
      .filter(([name, p]) => name !== '' && p.engines && !Array.isArray(p.engines) && typeof p.engines.node === 'string')
      .filter(([, p]) => !semver.satisfies(version, (p.engines as { node: string }).node))
      .map(([name, p]) => `${name.replace(/^.*node_modules\//, '')}@${p.version} wants ${(p.engines as { node: string }).node}`);
    expect(refusing).toEqual([]);
  });
});
