import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, ADMIN_KEY } from './utils/test-app';
import { createTestDatabase, TestDatabase } from './utils/test-database';
import { buildService, freePort, ServiceProcess, startService } from './utils/service-process';
import { EXAMPLE_DIR, ExampleApp, packAndInstallClient, startExample } from './utils/nest-client-example';

/**
 * Issue 14, section 1: the client package as a user gets it. `npm pack` in libs/nest-client, the tarball
 * installed into examples/nest-express (a Nest application of its own), the real service as a process on
 * the test database, and the example's `@TrackUsage('structuring_diagnose')` route against it: on Express
 * (failMode closed and open) and the same module on Fastify. The ledger is read back through the service.
 */
describe('@credit-metering/nest-client in another Nest application', () => {
  let database: TestDatabase;
  let service: ServiceProcess;
  let servicePort: number;
  let serviceEnv: Record<string, string>;
  let express: ExampleApp;
  let open: ExampleApp;
  let fastify: ExampleApp;
  let journalDir: string;
  let keys: Record<'host' | 'open' | 'fastify', string>;

  const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${service.baseUrl}${path}`, { method: init.method ?? 'GET', headers: { ...ADMIN, 'content-type': 'application/json' }, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const summary = async (org: string) => (await (await api(`/api/organizations/${org}/usage`)).json()) as { used: number; remaining: number; events: number };
  const summarize = (app: ExampleApp, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${app.baseUrl}/ai/summarize`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const calls = async (app: ExampleApp) => ((await (await fetch(`${app.baseUrl}/ai/calls`)).json()) as { calls: number }).calls;
  /** An organization on the free plan (100 credits, hard cap) and an organization API key of its own. */
  const organizationWithKey = async (id: string, scopes: string[] = ['track', 'read']) => {
    expect((await api('/api/admin/organizations', { method: 'POST', body: { id, name: id, plan: 'free' } })).status).toBe(201);
    const res = await api(`/api/admin/organizations/${id}/api-keys`, { method: 'POST', body: { name: 'host app', scopes } });
    expect(res.status).toBe(201);
    return ((await res.json()) as { key: string }).key;
  };
  /** Uses up an organization's credits through the service's own API (structuring_diagnose at complexity 2 + echo: 25 each). */
  const spend = async (org: string, events: number) => {
    const res = await api(`/api/organizations/${org}/usage/events`, { method: 'POST', body: { events: Array.from({ length: events }, () => ({ eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true } })) } });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    buildService();
    packAndInstallClient();
    database = await createTestDatabase({ onDisk: true });
    serviceEnv = { ...(database.url ? { DATABASE_URL: database.url } : { DATA_DIR: database.dataDir, DATABASE_URL: '' }), ADMIN_API_KEY: ADMIN_KEY };
    servicePort = await freePort();
    service = await startService(serviceEnv, servicePort);
    // The Express host meters with a key made "for the client package": track alone (it was 403 "lacks the
    // scope read" on every metered route when the client learned its organization through a read route).
    const [hostKey, openKey, fastifyKey] = await Promise.all([organizationWithKey('host-co', ['track']), organizationWithKey('open-co'), organizationWithKey('fastify-co', ['track'])]);
    keys = { host: hostKey, open: openKey, fastify: fastifyKey };
    journalDir = mkdtempSync(join(tmpdir(), 'metering-journal-'));
    const common = { METERING_URL: service.baseUrl };
    [express, open, fastify] = await Promise.all([
      startExample({ ...common, METERING_API_KEY: hostKey, METERING_JOURNAL: join(journalDir, 'express.jsonl') }),
      startExample({ ...common, METERING_API_KEY: openKey, METERING_FAIL_MODE: 'open', METERING_JOURNAL: join(journalDir, 'open.jsonl') }),
      startExample({ ...common, METERING_API_KEY: fastifyKey, PLATFORM: 'fastify', METERING_JOURNAL: join(journalDir, 'fastify.jsonl') }),
    ]);
    // Building the service, packing the client and building the example take minutes on a loaded 2-core machine.
  }, 420_000);

  afterAll(async () => {
    await Promise.all([express?.stop(), open?.stop(), fastify?.stop()]);
    if (service && service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exited;
    }
    await database?.drop();
    if (journalDir) rmSync(journalDir, { recursive: true, force: true });
  }, 60_000);

  it('installs from the packed tarball: a real copy with compiled JavaScript and types, and no second @nestjs/core', () => {
    const installed = join(EXAMPLE_DIR, 'node_modules', '@credit-metering', 'nest-client');
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(existsSync(join(installed, 'dist', 'nest-client', 'src', 'index.js'))).toBe(true);
    expect(existsSync(join(installed, 'dist', 'nest-client', 'src', 'index.d.ts'))).toBe(true);
    // The contract types are compiled into the package, not copied by hand.
    expect(readFileSync(join(installed, 'dist', 'contracts', 'src', 'error-codes.js'), 'utf8')).toContain('METERING_UNAVAILABLE');
    expect(existsSync(join(installed, 'node_modules'))).toBe(false);
    expect(existsSync(join(EXAMPLE_DIR, 'node_modules', '@nestjs'))).toBe(false);
  });

  it("charges the formula's credits and answers with usage and the X-Credits headers (Express)", async () => {
    const res = await summarize(express, { text: 'hello', complexity: 2, echo: true });
    expect(res.status).toBe(200);
    // structuring_diagnose: 10 base x complexity 2 + echo 5 = 25 of the free plan's 100.
    expect(res.headers.get('x-credits-consumed')).toBe('25');
    expect(res.headers.get('x-credits-remaining')).toBe('75');
    const body = (await res.json()) as { summary: string; usage: Record<string, unknown> };
    expect(body.summary).toBe('hello');
    expect(body.usage).toMatchObject({ eventType: 'structuring_diagnose', creditsConsumed: 25, remainingCredits: 75, mode: 'sync' });
    expect(typeof body.usage.eventId).toBe('string');
    expect(await summary('host-co')).toMatchObject({ used: 25, remaining: 75, events: 1 });
    expect(await calls(express)).toBe(1);
  });

  it('checks its key at boot: silent for a track key, one clear line for a key that cannot meter', async () => {
    expect(express.output()).not.toContain('credit-metering:');
    const res = await api('/api/admin/organizations/host-co/api-keys', { method: 'POST', body: { name: 'reads only', scopes: ['read'] } });
    const readOnly = ((await res.json()) as { key: string }).key;
    const wrong = await startExample({ METERING_URL: service.baseUrl, METERING_API_KEY: readOnly, METERING_JOURNAL: join(journalDir, 'wrong.jsonl') });
    try {
      for (let i = 0; i < 100 && !wrong.output().includes('credit-metering:'); i++) await new Promise((r) => setTimeout(r, 50));
      const lines = wrong.output().split('\n').filter((l) => l.includes('credit-metering:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('the API key cannot meter (403 FORBIDDEN: This API key lacks the scope track)');
      expect(lines[0]).toContain('for the client package');
      // And the app still started: its metered route answers the service's 403, the handler not run.
      const refused = await summarize(wrong, { complexity: 1 });
      expect(refused.status).toBe(403);
      expect(await calls(wrong)).toBe(0);
    } finally {
      await wrong.stop();
    }
  });

  it('charges nothing when the handler throws: the hold is released', async () => {
    const res = await summarize(express, { complexity: 2, fail: true });
    expect(res.status).toBe(500);
    expect(await calls(express)).toBe(2);
    expect(await summary('host-co')).toMatchObject({ used: 25, remaining: 75, events: 1 });
  });

  it('charges a retried request once under one Idempotency-Key, and answers the retry without running it', async () => {
    const before = await calls(express);
    const first = await summarize(express, { complexity: 2 }, { 'Idempotency-Key': 'host-retry-1' });
    const again = await summarize(express, { complexity: 2 }, { 'Idempotency-Key': 'host-retry-1' });
    expect([first.status, again.status]).toEqual([200, 200]);
    const firstBody = (await first.json()) as { usage: unknown };
    expect(firstBody.usage).toMatchObject({ creditsConsumed: 20, remainingCredits: 55 });
    // The replay is the first answer, kept by the service with the key; the handler did not run again.
    expect(await again.json()).toEqual(firstBody);
    expect(again.headers.get('x-credits-consumed')).toBe('20');
    expect(await summary('host-co')).toMatchObject({ used: 45, remaining: 55, events: 2 });
    expect(await calls(express)).toBe(before + 1);
  });

  it("answers the service's 402 with its body before the handler runs", async () => {
    await spend('host-co', 2); // 55 - 50: 5 left
    const before = await calls(express);
    const res = await summarize(express, { complexity: 1 });
    expect(res.status).toBe(402);
    expect(await res.json()).toMatchObject({ statusCode: 402, error: 'CREDITS_EXHAUSTED', message: expect.any(String), details: { required: 10, remaining: 5 } });
    expect(await calls(express)).toBe(before);
    expect(await summary('host-co')).toMatchObject({ used: 95, remaining: 5 });
  });

  it('the same decorated route on Fastify: charge, headers, no charge on a throw, 402 before the handler', async () => {
    const res = await summarize(fastify, { text: 'on fastify', complexity: 2, echo: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-credits-consumed')).toBe('25');
    expect(res.headers.get('x-credits-remaining')).toBe('75');
    expect(((await res.json()) as { usage: unknown }).usage).toMatchObject({ creditsConsumed: 25, remainingCredits: 75, mode: 'sync' });
    expect((await summarize(fastify, { fail: true })).status).toBe(500);
    expect(await summary('fastify-co')).toMatchObject({ used: 25, events: 1 });
    await spend('fastify-co', 3);
    const before = await calls(fastify);
    const refused = await summarize(fastify, { complexity: 1 });
    expect(refused.status).toBe(402);
    expect(await refused.json()).toMatchObject({ statusCode: 402, error: 'CREDITS_EXHAUSTED' });
    expect(await calls(fastify)).toBe(before);
  });

  it('with the service stopped: 503 METERING_UNAVAILABLE before the handler (closed); the handler runs and the event is journaled (open); charged once when the service is back', async () => {
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);

    const before = await calls(express);
    const closed = await summarize(express, { complexity: 1 });
    expect(closed.status).toBe(503);
    expect(await closed.json()).toMatchObject({ statusCode: 503, error: 'METERING_UNAVAILABLE', message: expect.any(String) });
    expect(await calls(express)).toBe(before);

    // Open: the work runs; a retry of the same request (one key) while the service is away is one charge too.
    const deferred = await summarize(open, { complexity: 2, echo: true }, { 'Idempotency-Key': 'open-1' });
    expect(deferred.status).toBe(200);
    expect(deferred.headers.get('x-credits-consumed')).toBeNull();
    expect(((await deferred.json()) as { usage: unknown }).usage).toMatchObject({ mode: 'deferred', creditsConsumed: null });
    expect((await summarize(open, { complexity: 2, echo: true }, { 'Idempotency-Key': 'open-1' })).status).toBe(200);
    expect(await calls(open)).toBe(2);
    // Durable before the answer left: in the journal file, once (the retry is the same work under the same key).
    const journal = readFileSync(join(journalDir, 'open.jsonl'), 'utf8');
    expect(journal.match(/"op":"add"/g)).toHaveLength(1);
    expect(journal).toContain('"idempotencyKey":"open-1"');

    service = await startService(serviceEnv, servicePort);
    let pending = Infinity;
    for (let round = 0; pending > 0 && round < 20; round++) {
      pending = ((await (await fetch(`${open.baseUrl}/ai/metering/flush`, { method: 'POST' })).json()) as { pending: number }).pending;
    }
    expect(pending).toBe(0);
    expect(await summary('open-co')).toMatchObject({ used: 25, remaining: 75, events: 1 });
    expect(existsSync(join(journalDir, 'open.jsonl.rejected.jsonl'))).toBe(false);

    // And the closed app reaches the service again without a restart (host-co has 5 credits left: 402, not 503).
    const back = await summarize(express, { complexity: 1 });
    expect(back.status).toBe(402);
    expect(await back.json()).toMatchObject({ error: 'CREDITS_EXHAUSTED', details: { remaining: 5 } });
  }, 120_000);

  it('UsageClient without Nest (examples/nest-express/src/plain-client.ts): a job charged once under its key', async () => {
    const run = () => JSON.parse(execFileSync(process.execPath, [join(EXAMPLE_DIR, 'dist', 'plain-client.js')], { env: { ...process.env, METERING_URL: service.baseUrl, METERING_API_KEY: keys.open }, encoding: 'utf8' }));
    expect(run()).toEqual({ credits: 20, duplicate: false, used: 45 });
    expect(run()).toEqual({ credits: 20, duplicate: true, used: 45 });
  });

  it("the package's own README and the service's README show the example's code, as compiled and run here", () => {
    const page = (...path: string[]) => readFileSync(join(process.cwd(), ...path), 'utf8');
    const tsBlocks = (text: string) => [...text.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]);
    // The package README's blocks that import something are the example's files (the one-line forRoot sketch is not).
    const packageBlocks = tsBlocks(page('libs', 'nest-client', 'README.md')).filter((b) => b.includes('import '));
    expect(packageBlocks.length).toBeGreaterThanOrEqual(3);
    const blocks = [...packageBlocks, ...tsBlocks(page('README.md'))];
    const sources = ['app.module.ts', 'ai.controller.ts', 'main.ts', 'plain-client.ts'].map((f) => readFileSync(join(EXAMPLE_DIR, 'src', f), 'utf8')).join('\n');
    for (const block of blocks) {
      for (const chunk of block.split(/^\s*\/\/ …\n/m)) expect(sources).toContain(chunk);
    }
  });
});
