import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: a plain ES module script (scripts/), no type declarations
import { staleReason } from '../scripts/ensure-built.mjs';
import { ADMIN_KEY } from './utils/test-app';
import { createTestDatabase, TestDatabase } from './utils/test-database';
import { buildService, freePort, ServiceProcess, startService } from './utils/service-process';

/**
 * The first five minutes, on the real process (`node dist/src/main.js`, as `npm start` runs it): the banner a
 * person reads, no module-loading noise at the default level, `/` sends to the dashboard, and the development
 * admin key never served beyond 127.0.0.1.
 */
const MODULE_NOISE = /InstanceLoader|RoutesResolver|RouterExplorer|dependencies initialized|Mapped \{/;

/** An IPv4 address of this machine other than loopback (undefined on a machine with none). */
const externalAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

async function reachable(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return true;
  } catch {
    return false;
  }
}

async function stop(service: ServiceProcess): Promise<void> {
  if (service.child.exitCode === null) service.child.kill('SIGTERM');
  await service.exited;
}

describe('starting the service', () => {
  let database: TestDatabase;
  const databaseEnv = () => (database.url ? { DATABASE_URL: database.url } : { DATA_DIR: database.dataDir, DATABASE_URL: '' });

  beforeAll(async () => {
    buildService();
    database = await createTestDatabase({ onDisk: true });
  }, 180_000);
  afterAll(async () => {
    await database?.drop();
  });

  it('with the development key: 127.0.0.1 only whatever HOST says, one readable banner, no module noise, / -> /dashboard', async () => {
    const service = await startService({ ...databaseEnv(), NODE_ENV: 'development', LOG_LEVEL: '', ADMIN_API_KEY: '', HOST: '0.0.0.0', PUBLIC_URL: '', JOBS_ENABLED: 'false' });
    try {
      const port = new URL(service.baseUrl).port;
      const root = await fetch(`${service.baseUrl}/`, { redirect: 'manual' });
      expect(root.status).toBe(302);
      expect(root.headers.get('location')).toBe('/dashboard');
      if (externalAddress) expect(await reachable(`http://${externalAddress}:${port}/health`)).toBe(false);
      const output = service.output();
      const origin = `http://127.0.0.1:${port}`;
      expect(output).toContain(`credit-metering is ready at ${origin} (listening on 127.0.0.1:${port})`);
      expect(output).toContain(`  Dashboard:  ${origin}/dashboard`);
      expect(output).toContain(`  API docs:   ${origin}/api/docs`);
      expect(output).toMatch(database.url ? /\n {2}Data: {7}PostgreSQL postgres@127\.0\.0\.1:5432\/\S+\n/ : /\n {2}Data: {7}embedded PostgreSQL \(PGlite\) in \/\S+\n/);
      expect(output).toContain('  Admin key:  the development key "dev-admin-key" is in use, so the service listens on 127.0.0.1 only');
      expect(output).toContain('(HOST=0.0.0.0 is ignored until ADMIN_API_KEY is set)');
      expect(output).not.toMatch(MODULE_NOISE);
      // At most a handful of lines before the first request: the banner and a few JSON lines.
      const beforeRequests = output.split('\n').filter(Boolean).findIndex((l) => l.includes('incoming request'));
      expect(beforeRequests).toBeLessThanOrEqual(15);
    } finally {
      await stop(service);
    }
  }, 180_000);

  it('with a real ADMIN_API_KEY: every interface by default, PUBLIC_URL in the banner, module loading at debug', async () => {
    const service = await startService({ ...databaseEnv(), NODE_ENV: 'development', LOG_LEVEL: 'debug', ADMIN_API_KEY: ADMIN_KEY, HOST: '', PUBLIC_URL: 'https://metering.example.com/', JOBS_ENABLED: 'false' });
    try {
      const port = new URL(service.baseUrl).port;
      if (externalAddress) expect(await reachable(`http://${externalAddress}:${port}/health`)).toBe(true);
      const output = service.output();
      expect(output).toContain(`credit-metering is ready at https://metering.example.com (listening on 0.0.0.0:${port})`);
      expect(output).toContain('  Dashboard:  https://metering.example.com/dashboard');
      expect(output).toContain('  Admin key:  from ADMIN_API_KEY');
      expect(output).not.toContain(ADMIN_KEY);
      expect(output).toMatch(MODULE_NOISE);
    } finally {
      await stop(service);
    }
  }, 180_000);
});

describe('npm start builds only when a source is newer than the last build', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ensure-built-'));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('stale without a build or a stamp, current after one, stale again when a source changes', () => {
    const at = (file: string, seconds: number) => utimesSync(join(root, file), seconds, seconds);
    mkdirSync(join(root, 'src'), { recursive: true });
    writeFileSync(join(root, 'src', 'main.ts'), '');
    at('src/main.ts', 1_000);
    expect(staleReason(root)).toMatch(/main\.js does not exist/);
    mkdirSync(join(root, 'dist', 'src'), { recursive: true });
    mkdirSync(join(root, 'dist', 'dashboard'), { recursive: true });
    writeFileSync(join(root, 'dist', 'src', 'main.js'), '');
    writeFileSync(join(root, 'dist', 'dashboard', 'index.html'), '');
    expect(staleReason(root)).toBe('no record of a complete build');
    writeFileSync(join(root, 'dist', '.build-stamp'), '{}');
    at('dist/.build-stamp', 2_000);
    expect(staleReason(root)).toBeUndefined();
    mkdirSync(join(root, 'dashboard', 'src'), { recursive: true });
    writeFileSync(join(root, 'dashboard', 'src', 'app.ts'), '');
    at('dashboard/src/app.ts', 3_000);
    expect(staleReason(root)).toBe(`${join('dashboard', 'src', 'app.ts')} changed since the last build`);
  });
});

describe('npm run demo follows PORT', () => {
  it('finds the service on PORT (a stand-in answering /health), and names PORT and DEMO_BASE_URL when nothing answers', async () => {
    const server = createServer((req, res) => {
      res.writeHead(req.url === '/health' ? 200 : 500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/health' ? { status: 'ok' } : { error: 'INTERNAL' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const cwd = mkdtempSync(join(tmpdir(), 'demo-')); // no .env there
    const demo = (env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = execFile(process.execPath, [join(process.cwd(), 'scripts', 'demo.mjs')], { cwd, env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env } }, (error, stdout, stderr) => resolve({ code: child.exitCode, out: stdout + stderr }));
      });
    try {
      const found = await demo({ PORT: String(port) });
      expect(found.out).toContain(`Service at http://127.0.0.1:${port}: ok`);
      const closed = await freePort();
      const missing = await demo({ PORT: String(closed) });
      expect(missing.code).toBe(1);
      expect(missing.out).toContain(`not reachable at http://127.0.0.1:${closed}`);
      expect(missing.out).toContain('PORT=<port> npm run demo');
      expect((await demo({ PORT: String(closed), DEMO_BASE_URL: `http://127.0.0.1:${port}/` })).out).toContain(`Service at http://127.0.0.1:${port}: ok`);
    } finally {
      server.close();
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
