import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../src/common/clock/clock';
import { DEV_ADMIN_API_KEY } from '../src/config/app-config';
import { curlExamples, expectedJson, placeholders } from './utils/shell-examples';
import type { CurlExample } from './utils/shell-examples';
import { startTestApp, TestApp } from './utils/test-app';

/**
 * The README's and docs/' examples, and the original configuration commands, run as written against the real app.
 *
 * The examples are read from README.md and the docs/ pages themselves (every `curl` of their bash blocks, in
 * the order of DOCUMENTS: each page goes on from the state the pages before it left), so the two cannot
 * drift: each must answer 2xx, or the status and the fields of the `# -> [status] {…}` line after it. `3f0c…`
 * and `nxk_…` stand for what an earlier answer gave (the field of that name in the `# ->` line where they
 * first appear). The service runs with the development admin key, as after `npm start`.
 */

// Jest runs from the repository's root (jest.config.mjs).
const ROOT = process.cwd();
/** The pages whose examples run, in the order they build on one another. */
const DOCUMENTS = ['README.md', 'docs/running.md', 'docs/usage-page.md', 'docs/api-keys.md', 'docs/portal-links.md', 'docs/configuration-api.md', 'docs/pricing.md', 'docs/amounts-and-bounds.md', 'docs/budgets.md', 'docs/idempotency.md', 'docs/asynchronous-ingestion.md', 'docs/agent-runs.md', 'docs/streaming.md', 'docs/count-limits.md'];
const EXAMPLES = DOCUMENTS.flatMap((document) => curlExamples(readFileSync(join(ROOT, document), 'utf8')));
const ELLIPSIS = /…|\.\.\./;

/** An expected body from a `# ->` line as a jest matcher: `{…}` any object, a placeholder any string. */
function matcher(value: unknown): unknown {
  if (typeof value === 'string' && ELLIPSIS.test(value)) return expect.any(String);
  if (Array.isArray(value)) return value.map(matcher);
  if (value && typeof value === 'object') {
    if ((value as Record<string, unknown>).__any__ === true) return expect.any(Object);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, matcher(v)]));
  }
  return value;
}

/** The JSON of a Server-Sent Events answer's last event. */
function lastSseEvent(text: string): unknown {
  const events = text.split('\n\n').filter((e) => e.trim());
  const data = events.at(-1)!.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
  return JSON.parse(data);
}

describe('the README and docs/ examples, as written', () => {
  let t: TestApp;
  const examples = EXAMPLES;

  beforeAll(async () => {
    t = await startTestApp({ clock: new FakeClock('2026-11-15T12:00:00.000Z'), config: { adminApiKey: DEV_ADMIN_API_KEY, adminApiKeyIsDefault: true } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('has the examples this test expects to find (quick start, API keys, run-time configuration)', () => {
    const paths = examples.map((e) => `${e.method} ${e.path}`);
    expect(paths).toEqual(
      expect.arrayContaining(['GET /health', 'POST /api/admin/organizations', 'POST /api/demo/track-usage', 'POST /api/admin/organizations/acme/api-keys', 'POST /api/admin/config']),
    );
    expect(examples.length).toBeGreaterThanOrEqual(15);
  });

  it('each one answers what the README says, in order', async () => {
    // Placeholder text (`nxk_…`) -> the value it stands for, learned from earlier answers.
    const values = new Map<string, string>();
    const fill = (text: string) => [...values].reduce((s, [placeholder, value]) => s.split(placeholder).join(value), text);
    for (const example of examples as CurlExample[]) {
      const path = fill(example.path);
      let req = t.http()[example.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'](path);
      for (const [name, value] of Object.entries(example.headers)) req = req.set(name, fill(value));
      const res = await (example.body !== undefined ? req.send(fill(example.body)) : req);
      // A streamed answer (Server-Sent Events) is compared by its last event: the `usage` the stream ends with.
      if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) res.body = lastSseEvent(res.text);
      const where = `${example.source}\n-> ${res.status} ${JSON.stringify(res.body).slice(0, 600)}`;
      if (example.expected?.status !== undefined) expect({ where, status: res.status }).toEqual({ where, status: example.expected.status });
      else expect({ where, ok: res.status >= 200 && res.status < 300 }).toEqual({ where, ok: true });
      if (example.expected?.body) {
        const expected = expectedJson(example.expected.body);
        expect({ where, body: res.body as unknown }).toMatchObject({ where, body: matcher(expected) });
        for (const [placeholder, field] of placeholders(expected)) {
          const actual = (res.body as Record<string, unknown>)[field];
          if (typeof actual === 'string' && !values.has(placeholder)) values.set(placeholder, actual);
        }
      }
    }
    // The quick start's organization went through the whole story: 25 + 20 + 5 credits of its 100, 5.3 for 1,500
    // tokens, and 25 for a metered route replayed once (charged once).
    const summary = await t.http().get('/api/organizations/acme/usage').set('Authorization', `Bearer ${DEV_ADMIN_API_KEY}`).expect(200);
    expect(summary.body).toMatchObject({ used: 80.3, remaining: 19.7 });
  });
});

describe('the configuration commands as first written, the pricing examples and the seed catalogue', () => {
  let t: TestApp;
  const ADMIN = { Authorization: `Bearer ${DEV_ADMIN_API_KEY}` };

  beforeAll(async () => {
    t = await startTestApp({ clock: new FakeClock('2026-11-15T12:00:00.000Z'), config: { adminApiKey: DEV_ADMIN_API_KEY, adminApiKeyIsDefault: true } });
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'seed-org', name: 'Seed', plan: 'professional' }).expect(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  const config = (body: unknown) => t.http().post('/api/admin/config').set(ADMIN).send(body as object);

  it('GET /api/admin/config: {events: {eventType: definition}, plans: {name: definition}, cache}', async () => {
    const res = await t.http().get('/api/admin/config').set(ADMIN).expect(200);
    expect(Object.keys(res.body).sort()).toEqual(['cache', 'events', 'plans']);
    expect(Object.keys(res.body.events)).toHaveLength(16);
    expect(Object.keys(res.body.plans).sort()).toEqual(['enterprise', 'free', 'professional', 'starter']);
    expect(res.body.events.structuring_diagnose).toMatchObject({ eventType: 'structuring_diagnose', baseCredits: 10 });
  });

  it("the original hot-reload example creates test_event with defaults, priced from the next event", async () => {
    const res = await config({ type: 'event', action: 'update', data: { eventType: 'test_event', config: { baseCredits: 5, description: 'Test hot-reload event', category: 'test' } } }).expect(200);
    expect(res.body).toMatchObject({
      success: true,
      eventType: 'test_event',
      definition: { eventType: 'test_event', displayName: 'Test Event', description: 'Test hot-reload event', category: 'test', baseCredits: 5, isActive: true, version: 1, multipliers: { complexity: null, features: {} } },
    });
    const tracked = await t.http().post('/api/demo/track-usage').set(ADMIN).send({ organizationId: 'seed-org', eventType: 'test_event', eventData: {} }).expect(201);
    expect(tracked.body).toMatchObject({ success: true, eventType: 'test_event', creditsConsumed: 5 });
    // The same command again is an update of what now exists: a new version, same content.
    const again = await config({ type: 'event', action: 'update', data: { eventType: 'test_event', config: { baseCredits: 6 } } }).expect(200);
    expect(again.body.definition).toMatchObject({ displayName: 'Test Event', category: 'test', baseCredits: 6, version: 2 });
  });

  it('event and plan actions create, update (an upsert) and delete; plans take defaults too', async () => {
    await config({ type: 'event', action: 'create', data: { eventType: 'seed_create', config: { baseCredits: 2 } } }).expect(200);
    await config({ type: 'event', action: 'create', data: { eventType: 'seed_create', config: { baseCredits: 2 } } }).expect(409);
    const plan = await config({ type: 'plan', action: 'update', data: { name: 'team', config: { monthlyCredits: 3000, pricing: { monthly: 29 } } } }).expect(200);
    expect(plan.body.definition).toMatchObject({ name: 'team', displayName: 'Team', monthlyCredits: 3000, pricing: { monthly: 29, annual: 348 }, overageRate: null, warningThresholds: [0.8, 0.9, 1], isActive: true });
    const created = await config({ type: 'plan', action: 'create', data: { name: 'solo', config: { monthlyCredits: 10, pricing: { monthly: 1, annual: 10 } } } }).expect(200);
    expect(created.body.definition).toMatchObject({ displayName: 'Solo', pricing: { monthly: 1, annual: 10 } });
    const deleted = await config({ type: 'event', action: 'delete', data: { eventType: 'seed_create' } }).expect(200);
    expect(deleted.body.definition).toMatchObject({ isActive: false });
    await config({ type: 'plan', action: 'delete', data: { name: 'solo' } }).expect(200);
  });

  it('what sets a price is never guessed: a new event without baseCredits, a plan without its allowance, are 400 with a message per field', async () => {
    const event = await config({ type: 'event', action: 'update', data: { eventType: 'no_price', config: { description: 'x' } } }).expect(400);
    expect(event.body).toMatchObject({ error: 'VALIDATION_FAILED', details: { fields: { baseCredits: [expect.any(String)] } } });
    const plan = await config({ type: 'plan', action: 'update', data: { name: 'no_credits', config: { pricing: { monthly: 5 } } } }).expect(400);
    expect(plan.body).toMatchObject({ error: 'VALIDATION_FAILED', details: { fields: { monthlyCredits: [expect.any(String)] } } });
    expect((await t.http().get('/api/admin/config').set(ADMIN).expect(200)).body.events.no_price).toBeUndefined();
  });

  it.each(['refresh', 'refresh-all', 'clear', 'stats'])('cache action %s', async (action) => {
    const res = await config({ type: 'cache', action }).expect(200);
    expect(res.body).toMatchObject({ success: true, cache: { events: expect.any(Object), plans: expect.any(Object) } });
  });

  it('POST /api/demo/track-usage with the pricing examples of docs/pricing.md: 25 and 33 credits', async () => {
    const one = await t.http().post('/api/demo/track-usage').set(ADMIN).send({ organizationId: 'seed-org', eventType: 'structuring_diagnose', eventData: { complexity: 2.0, echo: true } }).expect(201);
    expect(one.body).toMatchObject({ success: true, creditsConsumed: 25, breakdown: expect.any(Object), duplicate: false });
    const two = await t.http().post('/api/demo/track-usage').set(ADMIN).send({ organizationId: 'seed-org', eventType: 'structuring_diagnose', eventData: { complexity: 4, echo: true, traceback: true }, userId: 'u-1' }).expect(201);
    expect(two.body).toMatchObject({ success: true, creditsConsumed: 33 });
  });

  /** docs/catalogue.md's tables: what the seed loads, row by row. */
  const catalogue = readFileSync(join(ROOT, 'docs', 'catalogue.md'), 'utf8');
  const tableRows = (heading: RegExp): string[][] => {
    const start = catalogue.search(heading);
    const lines = catalogue.slice(start).split('\n');
    const first = lines.findIndex((l) => l.startsWith('|'));
    const rows: string[][] = [];
    for (const line of lines.slice(first + 2)) {
      if (!line.startsWith('|')) break;
      rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
    }
    return rows;
  };

  it('the catalogue is the one of docs/catalogue.md, row by row', async () => {
    const res = await t.http().get('/api/admin/config').set(ADMIN).expect(200);
    const events = tableRows(/Event definitions/);
    expect(events).toHaveLength(15);
    for (const [eventType, category, base, complexity, bonuses, endpoint] of events) {
      const def = res.body.events[eventType];
      expect({ eventType, def: def && { category: def.category, baseCredits: def.baseCredits, endpoint: def.endpoint } }).toEqual({ eventType, def: { category, baseCredits: Number(base), endpoint: endpoint.split(' ')[0] } });
      if (complexity) {
        const [min, max] = complexity.split('..').map(Number);
        expect({ eventType, complexity: def.multipliers.complexity }).toEqual({ eventType, complexity: { min, max } });
      }
      const features = Object.fromEntries(bonuses ? bonuses.split(',').map((b) => [b.trim().split(' ')[0], Number(b.trim().split(' ')[1])]) : []);
      expect({ eventType, features: def.multipliers.features }).toEqual({ eventType, features });
    }
    const plans = tableRows(/^Plans:/m);
    expect(plans).toHaveLength(4);
    for (const [name, displayName, credits, monthly, annual, , , , , , overage] of plans) {
      expect({ name, plan: res.body.plans[name] }).toMatchObject({ name, plan: { displayName, monthlyCredits: Number(credits), pricing: { monthly: Number(monthly), annual: Number(annual) }, overageRate: overage.startsWith('null') ? null : Number(overage) } });
    }
  });
});
