import { describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { keyOf, MCP_ERROR_META, MCP_USAGE_META, MeteredMcpTools } from './metered-mcp-tools';
import type { McpToolMeter, MeteredMcpToolsOptions } from './metered-mcp-tools';
import { MeteringError } from './metering-error';
import { UsageClient } from './usage-client';

/**
 * The adapter against a scripted service (each request to the reservations API takes the next answer),
 * driven by the SDK's Client over its in-memory transport: the decisions the service's own answers
 * lead to. The end-to-end behaviour against the real service is in test/mcp-tools.e2e-spec.ts.
 */

interface Seen {
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}
type Answer = { status: number; body: unknown } | Error;

const hold = (over: Record<string, unknown> = {}) => ({ status: 201, body: { reservationId: 'r1', eventType: 'tool_call', credits: 5, expiresAt: new Date(Date.now() + 600_000).toISOString(), remainingCredits: 95, status: 'pending', duplicate: false, ...over } });
const charge = (credits: number) => ({ status: 200, body: { success: true, eventId: 'ev1', eventType: 'tool_call', creditsConsumed: credits, remainingCredits: 100 - credits, overageCredits: 0, warnings: [], duplicate: false } });
const refusal = (status: number, error: string, details: Record<string, unknown> = {}) => ({ status, body: { statusCode: status, error, message: `${error} said the service`, details } });
const unreachable = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });

async function setUp(answers: Answer[], meter: Partial<McpToolMeter<{ n: number }, { content: Array<{ type: 'text'; text: string }>; structuredContent?: Record<string, unknown> }>> = {}, options: MeteredMcpToolsOptions = {}, tool?: (n: number) => Promise<unknown>) {
  const seen: Seen[] = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    seen.push({ path: url.replace('http://metering', ''), headers: init.headers as Record<string, string>, body: init.body ? (JSON.parse(init.body as string) as Record<string, unknown>) : {} });
    const next = answers.shift();
    if (!next) throw new Error(`unexpected request ${url}`);
    if (next instanceof Error) throw next;
    return new Response(JSON.stringify(next.body), { status: next.status, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  const usage = new UsageClient({ baseUrl: 'http://metering', apiKey: 'nxk_test', organizationId: 'acme', fetch: fetchFn, retries: 0 });
  const warnings: string[] = [];
  const server = new McpServer({ name: 'spec', version: '1.0.0' });
  const metering = new MeteredMcpTools(server, usage, { logger: { warn: (m) => warnings.push(m) }, ...options });
  let runs = 0;
  server.registerTool(
    'work',
    { inputSchema: { n: z.number() } },
    metering.tool({ eventType: 'tool_call', ...meter }, async ({ n }) => {
      runs++;
      if (tool) await tool(n);
      return { content: [{ type: 'text' as const, text: `did ${n}` }], structuredContent: { units: n } };
    }),
  );
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  serverSide.sessionId = 'sess-1';
  await server.connect(serverSide);
  const client = new Client({ name: 'spec', version: '1.0.0' });
  await client.connect(clientSide);
  const call = async (n = 1) => (await client.callTool({ name: 'work', arguments: { n } })) as { content: Array<{ text: string }>; isError?: boolean; _meta?: Record<string, unknown> };
  return { call, seen, warnings, runs: () => runs, answers, close: () => client.close() };
}

describe('MeteredMcpTools', () => {
  it('holds under mcp:<session>:<request id>, runs the tool, commits with its result, and reports the charge in _meta', async () => {
    const t = await setUp([hold(), charge(5)]);
    const result = await t.call();
    expect(result.content).toEqual([{ type: 'text', text: 'did 1' }]);
    expect(result._meta?.[MCP_USAGE_META]).toMatchObject({ eventId: 'ev1', creditsConsumed: 5, remainingCredits: 95, mode: 'sync' });
    expect(t.seen.map((s) => s.path)).toEqual(['/api/organizations/acme/usage/reservations', '/api/organizations/acme/usage/reservations/r1/commit']);
    expect(t.seen[0].body).toMatchObject({ eventType: 'tool_call', eventData: {}, idempotencyKey: expect.stringMatching(/^mcp:sess-1:\d+$/) });
    expect(t.seen[1].headers['idempotency-key']).toBe(t.seen[0].body.idempotencyKey);
    // The result as the tool answered it is kept with the key, for a retry's replay.
    expect(t.seen[1].body.response).toEqual({ status: 200, body: { content: [{ type: 'text', text: 'did 1' }], structuredContent: { units: 1 } } });
    expect(t.seen[0].headers).not.toHaveProperty('x-run-id');
    await t.close();
  });

  it.each([
    ['CREDITS_EXHAUSTED', 402],
    ['BUDGET_EXCEEDED', 402],
    ['RUN_BUDGET_EXCEEDED', 402],
    ['LIMIT_EXCEEDED', 402],
    ['EVENT_TYPE_NOT_FOUND', 404],
    ['FORBIDDEN', 403],
  ])('a refusal at the hold (%s) is the tool error result with its code and reason; the tool never runs', async (code, status) => {
    const t = await setUp([refusal(status, code, { required: 5 })]);
    const result = await t.call();
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toBe(`${code}: ${code} said the service`);
    expect(result._meta?.[MCP_ERROR_META]).toEqual({ statusCode: status, error: code, message: `${code} said the service`, details: { required: 5 } });
    expect(t.runs()).toBe(0);
    expect(t.seen).toHaveLength(1);
    await t.close();
  });

  it('an unreachable service at the hold is METERING_UNAVAILABLE and the tool does not run (closed)', async () => {
    const t = await setUp([unreachable()]);
    const result = await t.call();
    expect(result._meta?.[MCP_ERROR_META]).toMatchObject({ statusCode: 503, error: 'METERING_UNAVAILABLE' });
    expect(t.runs()).toBe(0);
    await t.close();
  });

  it('a tool that throws: the hold is released and the error goes to the caller; with onError "charge" the hold is committed instead', async () => {
    const fails = async () => {
      throw new Error('upstream broke');
    };
    const released = await setUp([hold(), { status: 200, body: { reservationId: 'r1', status: 'released', releasedCredits: 5 } }], {}, {}, fails);
    const a = await released.call();
    expect(a.isError).toBe(true);
    expect(a.content[0].text).toContain('upstream broke');
    expect(released.seen.map((s) => s.path.split('/').pop())).toEqual(['reservations', 'release']);
    await released.close();

    const charged = await setUp([hold(), charge(5)], { onError: 'charge' }, {}, fails);
    const b = await charged.call();
    expect(b.isError).toBe(true);
    expect(charged.seen.map((s) => s.path.split('/').pop())).toEqual(['reservations', 'commit']);
    // The error is kept with the key: a retry answers it again, not charged twice.
    expect(charged.seen[1].body.response).toEqual({ status: 200, body: { content: [{ type: 'text', text: 'upstream broke' }], isError: true } });
    expect(charged.seen[1].body).not.toHaveProperty('eventData');
    await charged.close();
  });

  it('units from the input are held and from the result committed; a re-price that no longer fits (402) charges the hold as held', async () => {
    const meter = { estimate: ({ n }: { n: number }) => ({ items: n * 10 }), units: (r: { structuredContent?: Record<string, unknown> }) => ({ items: r.structuredContent!.units as number }) };
    const t = await setUp([hold(), refusal(402, 'CREDITS_EXHAUSTED'), charge(5)], meter);
    const result = await t.call(3);
    expect(t.seen[0].body.eventData).toEqual({ units: { items: 30 } });
    expect(t.seen[1].body.eventData).toEqual({ units: { items: 3 } });
    expect(t.seen[2].body).not.toHaveProperty('eventData');
    expect(result.isError).toBeUndefined();
    expect(result._meta?.[MCP_USAGE_META]).toMatchObject({ creditsConsumed: 5 });
    await t.close();
  });

  it('quantities that do not price (a units mapper that throws, or 400 from the commit) release the hold and charge nothing', async () => {
    const released = { status: 200, body: { reservationId: 'r1', status: 'released', releasedCredits: 5 } };
    const throwing = await setUp([hold(), released], {
      units: () => {
        throw new Error('no usage in the result');
      },
    });
    expect((await throwing.call())._meta?.[MCP_ERROR_META]).toMatchObject({ error: 'VALIDATION_FAILED' });
    expect(throwing.seen.map((s) => s.path.split('/').pop())).toEqual(['reservations', 'release']);
    await throwing.close();

    const invalid = await setUp([hold(), refusal(400, 'VALIDATION_FAILED'), released], { units: () => ({ items: -1 }) });
    expect((await invalid.call())._meta?.[MCP_ERROR_META]).toMatchObject({ statusCode: 400, error: 'VALIDATION_FAILED' });
    expect(invalid.seen.map((s) => s.path.split('/').pop())).toEqual(['reservations', 'commit', 'release']);
    await invalid.close();
  });

  it('a commit that cannot reach the service still answers the work, with no charge in its usage, and says so in the log', async () => {
    const t = await setUp([hold(), unreachable()]);
    const result = await t.call();
    expect(result.content).toEqual([{ type: 'text', text: 'did 1' }]);
    expect(result._meta?.[MCP_USAGE_META]).toMatchObject({ creditsConsumed: null, eventId: null });
    expect(t.warnings).toHaveLength(1);
    expect(t.warnings[0]).toContain('ran but could not be charged (503 METERING_UNAVAILABLE');
    await t.close();
  });

  it('a commit retried after its answer was lost (409 RESERVATION_SETTLED, committed) reports the original charge', async () => {
    const t = await setUp([hold(), refusal(409, 'RESERVATION_SETTLED', { status: 'committed', eventId: 'ev0', creditsConsumed: 5, overageCredits: 0 })]);
    expect((await t.call())._meta?.[MCP_USAGE_META]).toMatchObject({ eventId: 'ev0', creditsConsumed: 5 });
    expect(t.warnings).toEqual([]);
    await t.close();
  });

  it('a key used before: a committed call answers its kept result without running; a pending one is IDEMPOTENCY_IN_PROGRESS', async () => {
    const kept = { status: 200, body: { content: [{ type: 'text', text: 'did 1 (first time)' }] }, usage: { eventId: 'ev0', eventType: 'tool_call', creditsConsumed: 5, remainingCredits: 95, overageCredits: 0, warnings: [], mode: 'sync' } };
    const t = await setUp([hold({ duplicate: true, status: 'committed', answer: kept }), hold({ duplicate: true, status: 'pending' })]);
    const replay = await t.call();
    expect(replay.content).toEqual([{ type: 'text', text: 'did 1 (first time)' }]);
    expect(replay._meta).toMatchObject({ [MCP_USAGE_META]: { eventId: 'ev0', creditsConsumed: 5 }, 'credit-metering/replayed': true });
    const running = await t.call();
    expect(running._meta?.[MCP_ERROR_META]).toMatchObject({ statusCode: 409, error: 'IDEMPOTENCY_IN_PROGRESS' });
    expect(t.runs()).toBe(0);
    await t.close();
  });

  it('the session as a run: asked once per session, sent as X-Run-Id on reserve and commit; a failed look-up is the error result and is asked again', async () => {
    let asked = 0;
    const runId = async () => {
      asked++;
      if (asked === 1) throw new MeteringError(402, { statusCode: 402, error: 'CREDITS_EXHAUSTED', message: 'no budget for a run' });
      return 'run-7';
    };
    const t = await setUp([hold(), charge(5), hold(), charge(5)], {}, { runId });
    expect((await t.call())._meta?.[MCP_ERROR_META]).toMatchObject({ error: 'CREDITS_EXHAUSTED', message: 'no budget for a run' });
    await t.call();
    await t.call();
    expect(asked).toBe(2);
    expect(t.seen.map((s) => s.headers['x-run-id'])).toEqual(['run-7', 'run-7', 'run-7', 'run-7']);
    await t.close();
  });

  it('keys: a number and a string id are two keys; a key the service would refuse (too long, not ASCII) is hashed', () => {
    expect(keyOf('s', 7)).toBe('mcp:s:7');
    expect(keyOf('s', '7')).toBe('mcp:s:"7"');
    expect(keyOf('s'.repeat(300), 1)).toMatch(/^mcp:sha256:[0-9a-f]{64}$/);
    expect(keyOf('sessión', 1)).toMatch(/^mcp:sha256:[0-9a-f]{64}$/);
    expect(keyOf('sessión', 1)).not.toBe(keyOf('sessión', 2));
  });

  it('one server reconnected on a new sessionless transport: a new session, so its request ids are new keys', async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const fetchFn = (async (_url: string, init: RequestInit) => {
      bodies.push(JSON.parse(init.body as string) as Record<string, unknown>);
      const answer = bodies.length % 2 === 1 ? hold() : charge(5);
      return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof fetch;
    const server = new McpServer({ name: 'spec', version: '1.0.0' });
    const metering = new MeteredMcpTools(server, new UsageClient({ baseUrl: 'http://metering', apiKey: 'k', organizationId: 'acme', fetch: fetchFn }));
    server.registerTool('work', { inputSchema: {} }, metering.tool({ eventType: 'tool_call' }, async () => ({ content: [] })));
    // A tool registered without an inputSchema is called with `extra` alone (a caller in plain JavaScript).
    const bare = metering.tool({ eventType: 'tool_call' }, async () => ({ content: [] })) as unknown as (extra: unknown) => Promise<unknown>;
    server.registerTool('bare', {}, bare as never);
    const keys: unknown[] = [];
    for (let connection = 0; connection < 2; connection++) {
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(serverSide);
      const client = new Client({ name: 'spec', version: '1.0.0' });
      await client.connect(clientSide);
      await client.callTool({ name: 'work', arguments: {} });
      keys.push(bodies[bodies.length - 2].idempotencyKey);
      expect((await client.callTool({ name: 'bare' }))._meta).toMatchObject({ [MCP_USAGE_META]: { creditsConsumed: 5 } });
      await client.close();
      await server.close();
    }
    // The same request id on both connections (the client numbers its requests from 0 each time).
    expect(String(keys[0]).split(':').pop()).toBe(String(keys[1]).split(':').pop());
    expect(keys[0]).toMatch(/^mcp:conn-[0-9a-f-]{36}:\d+$/);
    expect(keys[0]).not.toBe(keys[1]);
  });

  it('a tool that outlived its hold (409 RESERVATION_SETTLED, expired) is charged directly under its key; when that no longer fits, not at all', async () => {
    const expired = refusal(409, 'RESERVATION_SETTLED', { status: 'expired' });
    const t = await setUp([hold(), expired, charge(5), hold(), expired, refusal(402, 'CREDITS_EXHAUSTED')], { eventData: () => ({ complexity: 2 }) }, { runId: () => 'run-1' });
    expect((await t.call())._meta?.[MCP_USAGE_META]).toMatchObject({ eventId: 'ev1', creditsConsumed: 5 });
    expect(t.seen[2].path).toBe('/api/organizations/acme/usage/events');
    expect(t.seen[2].body).toEqual({ eventType: 'tool_call', eventData: { complexity: 2 }, idempotencyKey: t.seen[0].body.idempotencyKey });
    expect(t.seen[2].headers['x-run-id']).toBe('run-1');
    expect((await t.call())._meta?.[MCP_USAGE_META]).toMatchObject({ creditsConsumed: null });
    expect(t.warnings).toHaveLength(1);
    expect(t.warnings[0]).toContain('402 CREDITS_EXHAUSTED');
    await t.close();
  });

  it('a tool that answers isError: true, or nothing at all, is a failure: the hold is released', async () => {
    const released = { status: 200, body: { reservationId: 'r1', status: 'released', releasedCredits: 5 } };
    for (const answer of [{ content: [{ type: 'text', text: 'no such file' }], isError: true }, undefined]) {
      const seen: string[] = [];
      const fetchFn = (async (url: string) => {
        seen.push(url.split('/').pop()!);
        const next = seen.length === 1 ? hold() : released;
        return new Response(JSON.stringify(next.body), { status: next.status, headers: { 'content-type': 'application/json' } });
      }) as unknown as typeof fetch;
      const server = new McpServer({ name: 'spec', version: '1.0.0' });
      const metering = new MeteredMcpTools(server, new UsageClient({ baseUrl: 'http://metering', apiKey: 'k', organizationId: 'acme', fetch: fetchFn }));
      server.registerTool('work', { inputSchema: {} }, metering.tool({ eventType: 'tool_call' }, async () => answer as never));
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(serverSide);
      const client = new Client({ name: 'spec', version: '1.0.0' });
      await client.connect(clientSide);
      const call = client.callTool({ name: 'work', arguments: {} });
      // The SDK answers an error result as it is, and no result at all as a protocol error.
      if (answer) expect((await call).isError).toBe(true);
      else await expect(call).rejects.toThrow('Invalid tools/call result');
      expect(seen).toEqual(['reservations', 'release']);
      await client.close();
    }
  });
});
