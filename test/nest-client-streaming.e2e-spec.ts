import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, ADMIN_KEY } from './utils/test-app';
import { createTestDatabase, TestDatabase } from './utils/test-database';
import { buildService, freePort, ServiceProcess, startService } from './utils/service-process';
import { ExampleApp, packAndInstallClient, startExample } from './utils/nest-client-example';
import { llmPrice, parseSse, shown } from './utils/sse';
import type { Sse } from './utils/sse';

/**
 * Streamed answers through the client package, as a host gets it: the packed tarball in
 * examples/nest-express (Express), its StreamController's routes (an async generator, an Observable, a Node
 * Readable, a usage chunk at the end; each disconnect policy) against the real service as a process. The
 * host charges the tenant its X-Tenant header names, with the admin key; llm_completion: base 0.5,
 * inputTokens 0.002, outputTokens 0.008; the host's model streams 16 tokens per chunk, its step is 64.
 */
let seq = 0;
const price = llmPrice;

describe('@credit-metering/nest-client: streamed answers (Express host)', () => {
  let database: TestDatabase;
  let service: ServiceProcess;
  let host: ExampleApp;
  let fastifyHost: ExampleApp;
  let journalDir: string;

  const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${service.baseUrl}${path}`, { method: init.method ?? 'GET', headers: { ...ADMIN, 'content-type': 'application/json' }, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const createOrg = async (plan = 'starter') => {
    const id = `client-stream-${++seq}`;
    expect((await api('/api/admin/organizations', { method: 'POST', body: { id, name: id, plan } })).status).toBe(201);
    return id;
  };
  const summary = async (org: string) => (await (await api(`/api/organizations/${org}/usage`)).json()) as { used: number; remaining: number; events: number };
  const eventLog = async (org: string) =>
    ((await (await api(`/api/organizations/${org}/usage/events?limit=10`)).json()) as { items: Array<{ credits: number; breakdown: { stopReason?: string; units?: Record<string, { quantity: number }> } }> }).items;
  const post = (path: string, org: string, body: Record<string, unknown>, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}) =>
    fetch(`${host.baseUrl}/ai/stream${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tenant': org, ...init.headers }, body: JSON.stringify(body), signal: init.signal });
  const stats = async () => (await (await fetch(`${host.baseUrl}/ai/stream/stats`)).json()) as { produced: Record<string, number>; usage: Record<string, Sse['usage']> };
  /** The settled charge after a disconnect: the event log once it has the stream's event. */
  async function settledEvent(org: string, events = 1) {
    for (let i = 0; i < 500; i++) {
      const items = await eventLog(org);
      if (items.length >= events) return items[0];
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the stream was never settled');
  }
  /** Reads until `chunks` data events arrived, then goes away. */
  async function abortAfter(path: string, org: string, chunks: number): Promise<void> {
    const abort = new AbortController();
    const res = await post(path, org, { prompt: 'hello world!', maxTokens: 2000 }, { signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/^data: /gm) ?? []).length < chunks) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
  }

  beforeAll(async () => {
    buildService();
    packAndInstallClient();
    database = await createTestDatabase({ onDisk: true });
    const env = { ...(database.url ? { DATABASE_URL: database.url } : { DATA_DIR: database.dataDir, DATABASE_URL: '' }), ADMIN_API_KEY: ADMIN_KEY };
    service = await startService(env, await freePort());
    journalDir = mkdtempSync(join(tmpdir(), 'metering-journal-'));
    [host, fastifyHost] = await Promise.all([
      startExample({ METERING_URL: service.baseUrl, METERING_API_KEY: ADMIN_KEY, METERING_JOURNAL: join(journalDir, 'stream.jsonl') }),
      startExample({ METERING_URL: service.baseUrl, METERING_API_KEY: ADMIN_KEY, METERING_JOURNAL: join(journalDir, 'fastify.jsonl'), PLATFORM: 'fastify' }),
    ]);
  }, 420_000);

  afterAll(async () => {
    await host?.stop();
    // The Fastify host closes the connections still open (an aborted stream's socket) when it stops
    // (forceCloseConnections in examples/nest-express/src/main.ts); the SIGKILL is only a guard.
    if (fastifyHost && fastifyHost.child.exitCode === null) {
      const killer = setTimeout(() => fastifyHost.child.kill('SIGKILL'), 10_000);
      await fastifyHost.stop();
      clearTimeout(killer);
    }
    if (service && service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exited;
    }
    await database?.drop();
    if (journalDir) rmSync(journalDir, { recursive: true, force: true });
  }, 60_000);

  it('streams an async generator as SSE and charges exactly the units delivered; the host is told the same usage', async () => {
    const org = await createOrg();
    const res = await post('', org, { prompt: 'hello world!', maxTokens: 200 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const sse = parseSse(await res.text());
    expect(sse.data).toHaveLength(13); // 12 x 16 + 8
    expect(sse.usage).toEqual({ creditsConsumed: shown(price(3, 200)), units: { inputTokens: 3, outputTokens: 200 }, stopReason: 'complete' });
    expect(await summary(org)).toMatchObject({ used: shown(price(3, 200)), events: 1 });
    const [event] = await eventLog(org);
    expect(event.breakdown.stopReason).toBe('complete');
    expect((await stats()).usage.default).toEqual(sse.usage);
  });

  it('stops at the hard cap after the last paid-for chunk', async () => {
    const org = await createOrg('free');
    // 98 credits spent: 2 left. First hold 0.5 + 0.006 + 64 x 0.008 = 1.018; each further step of 64 is 0.512.
    expect((await api(`/api/organizations/${org}/usage/events`, { method: 'POST', body: { eventType: 'llm_completion', eventData: { units: { outputTokens: 12187, inputTokens: 1 } } } })).status).toBe(201);
    const left = new Big(100).minus(price(1, 12187));
    const res = await post('', org, { prompt: 'hello world!', maxTokens: 2000 });
    const sse = parseSse(await res.text());
    expect(sse.usage!.stopReason).toBe('credit_limit');
    const output = sse.usage!.units.outputTokens;
    expect(sse.data.reduce((n, c) => n + (c.outputTokens as number), 0)).toBe(output);
    // Every step that fit, and not one more: the next step would have passed the cap.
    expect(price(3, output).lte(left)).toBe(true);
    expect(price(3, output + 64).gt(left)).toBe(true);
    expect((await summary(org)).remaining).toBeGreaterThanOrEqual(0);
    expect(sse.usage!.creditsConsumed).toBe(shown(price(3, output)));
  });

  it.each<[string, string, (produced: number, charged: number) => void, boolean]>([
    ['bill-delivered (default, an async generator): the model stops, what was delivered is charged', '', (produced, output) => expect(output).toBeLessThan(16 * 12), true],
    ['bill-all (an Observable): the model runs to its end, all of it is charged', '/bill-all', (produced, output) => expect(output).toBe(2000), true],
    ['void (a Node Readable): the model stops, nothing is charged', '/void', () => undefined, false],
  ])('a client that goes away after 3 chunks, %s', async (_name, path, check, charged) => {
    const org = await createOrg();
    const route = path === '' ? 'default' : path.slice(1);
    const before = (await stats()).produced[route] ?? 0;
    await abortAfter(path, org, 3);
    let usage: Sse['usage'];
    for (let i = 0; i < 500 && !usage; i++) {
      const s = await stats();
      if (s.usage[route]?.stopReason === 'client_disconnect' && (charged ? (await eventLog(org)).length > 0 : true)) usage = s.usage[route];
      else await new Promise((r) => setTimeout(r, 10));
    }
    expect(usage).toBeDefined();
    const produced = (await stats()).produced[route] - before;
    if (charged) {
      const event = await settledEvent(org);
      const output = event.breakdown.units!.outputTokens.quantity;
      expect(event.breakdown.stopReason).toBe('client_disconnect');
      expect(output).toBeGreaterThanOrEqual(48);
      expect(event.credits).toBe(shown(price(3, output)));
      expect(usage!.units.outputTokens).toBe(output);
      check(produced, output);
    } else {
      expect(usage).toEqual({ creditsConsumed: 0, units: {}, stopReason: 'client_disconnect' });
      expect(await summary(org)).toMatchObject({ used: 0, events: 0 });
      expect(produced).toBeLessThan(2000);
    }
  });

  it('a handler that throws mid-stream: charged what was delivered, a last usage event says error', async () => {
    const org = await createOrg();
    const res = await post('', org, { prompt: 'hello world!', maxTokens: 200, failAfter: 3 });
    const sse = parseSse(await res.text());
    expect(sse.data).toHaveLength(3);
    expect(sse.usage).toEqual({ creditsConsumed: shown(price(3, 48)), units: { inputTokens: 3, outputTokens: 48 }, stopReason: 'error' });
    expect(await summary(org)).toMatchObject({ used: shown(price(3, 48)), events: 1 });
  });

  it('a handler that throws before its first chunk answers its error; nothing is charged', async () => {
    const org = await createOrg();
    const res = await post('', org, { prompt: 'hello world!', maxTokens: 200, failAfter: 0 });
    expect(res.status).toBe(500);
    expect(await summary(org)).toMatchObject({ used: 0, events: 0 });
  });

  it("counts from the model's final usage chunk (not forwarded) when there is no per-chunk counter", async () => {
    const org = await createOrg();
    const res = await post('/usage-chunk', org, { prompt: 'hello world!', maxTokens: 100 });
    const sse = parseSse(await res.text());
    expect(sse.data).toHaveLength(7);
    expect(sse.data.every((c) => !('usage' in c))).toBe(true);
    expect(sse.usage).toEqual({ creditsConsumed: shown(price(3, 100)), units: { inputTokens: 3, outputTokens: 100 }, stopReason: 'complete' });
  });

  it('the same module on Fastify: streamed, charged the units delivered; a client that leaves is charged what it got', async () => {
    const org = await createOrg();
    const res = await fetch(`${fastifyHost.baseUrl}/ai/stream`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tenant': org }, body: JSON.stringify({ prompt: 'hello world!', maxTokens: 200 }) });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const sse = parseSse(await res.text());
    expect(sse.data).toHaveLength(13);
    expect(sse.usage).toEqual({ creditsConsumed: shown(price(3, 200)), units: { inputTokens: 3, outputTokens: 200 }, stopReason: 'complete' });
    const abort = new AbortController();
    const cut = await fetch(`${fastifyHost.baseUrl}/ai/stream`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tenant': org }, body: JSON.stringify({ prompt: 'hello world!', maxTokens: 2000 }), signal: abort.signal });
    const reader = cut.body!.getReader();
    let text = '';
    while ((text.match(/^data: /gm) ?? []).length < 3) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    const event = await settledEvent(org, 2);
    expect(event.breakdown.stopReason).toBe('client_disconnect');
    const output = event.breakdown.units!.outputTokens.quantity;
    expect(output).toBeGreaterThanOrEqual(48);
    expect(output).toBeLessThan(16 * 12);
    expect(event.credits).toBe(shown(price(3, output)));
  });

  it('a replay of a streamed request under its Idempotency-Key never streams it again for free', async () => {
    const org = await createOrg();
    const first = await post('', org, { prompt: 'hello world!', maxTokens: 64 }, { headers: { 'Idempotency-Key': `client-stream-key-${seq}` } });
    expect(parseSse(await first.text()).usage!.stopReason).toBe('complete');
    const again = await post('', org, { prompt: 'hello world!', maxTokens: 64 }, { headers: { 'Idempotency-Key': `client-stream-key-${seq}` } });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: 'IDEMPOTENCY_REPLAYED', details: { creditsConsumed: shown(price(3, 64)) } });
    expect(await summary(org)).toMatchObject({ events: 1 });
  });
});
