import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { z } from 'zod';
import { MCP_ERROR_META, MCP_REPLAYED_META, MCP_USAGE_META, MeteredMcpTools, UsageClient } from '../libs/nest-client/src/client';
import type { McpSession } from '../libs/nest-client/src/client';
import { createExampleServer } from '../examples/mcp-server/src/server';
import { ADMIN, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';
import { createTestDatabase, ON_POSTGRES } from './utils/test-database';
import type { TestDatabase } from './utils/test-database';

/**
 * The example MCP server (examples/mcp-server) with its tools metered through the client package, driven
 * by the SDK's own Client over the SDK's in-memory transport, against the real service listening on a
 * port. What each call charged is read back through the service.
 */

type ToolResult = { content: Array<{ type: string; text?: string }>; isError?: boolean; structuredContent?: Record<string, unknown>; _meta?: Record<string, unknown> };

/**
 * The network between an MCP client and the server, able to redeliver a `tools/call`: `retry` sends it
 * again (the same JSON-RPC id) once its first answer came back and hands the client only the second
 * answer (a client that lost the answer and retried); `duplicate` sends it twice at once and hands the
 * client the first answer back. Every answer to a copy is kept in `answers`.
 */
class RedeliveringTransport implements Transport {
  mode: 'none' | 'retry' | 'duplicate' = 'none';
  answers: ToolResult[] = [];
  private pending = new Map<string | number, { message: JSONRPCMessage; left: number }>();
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  constructor(private readonly inner: InMemoryTransport) {
    inner.onclose = () => this.onclose?.();
    inner.onerror = (e) => this.onerror?.(e);
    inner.onmessage = (message) => {
      const id = 'id' in message ? message.id : undefined;
      const copy = id === undefined ? undefined : this.pending.get(id);
      if (copy && 'result' in message) {
        this.answers.push(message.result as ToolResult);
        if (this.mode === 'retry' && copy.left > 0) {
          copy.left--;
          void this.inner.send(copy.message);
          return;
        }
        if (this.mode === 'duplicate' && this.answers.length > 1) return; // the client has had the first
      }
      this.onmessage?.(message);
    };
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.mode !== 'none' && 'method' in message && message.method === 'tools/call' && 'id' in message) {
      this.answers = [];
      this.pending = new Map([[message.id, { message, left: 1 }]]);
      if (this.mode === 'duplicate') {
        await Promise.all([this.inner.send(message), this.inner.send(message)]);
        return;
      }
    }
    await this.inner.send(message);
  }
}

interface Connection {
  client: Client;
  network: RedeliveringTransport;
  call(name: string, args?: Record<string, unknown>): Promise<ToolResult>;
  runs(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

describe('MCP tool calls metered through the client package (examples/mcp-server)', () => {
  let database: TestDatabase;
  let service: TestApp;
  /** A second instance of the service on the same PostgreSQL (the same one on the embedded database). */
  let second: TestApp;
  let baseUrl: string;
  let secondUrl: string;
  const suffix = Math.random().toString(36).slice(2, 7);
  const org = `mcp-co-${suffix}`;
  const other = `mcp-other-${suffix}`;
  const raced = `mcp-race-${suffix}`;
  const keys: Record<string, string> = {};
  /** What reached the service: each request's path and headers. */
  const seen: Array<{ url: string; headers: IncomingMessage['headers'] }> = [];
  const open: Connection[] = [];

  const summary = async (id: string) => (await service.http().get(`/api/organizations/${id}/usage`).set(ADMIN).expect(200)).body as { used: number; remaining: number; events: number };

  /** The example server on a fresh MCP session (`sessionId`: a transport that has one, like Streamable HTTP). */
  async function connect(options: { apiKey?: string; organizationId?: string; sessionId?: string; runId?: (session: McpSession) => string | undefined; serviceUrl?: string } = {}): Promise<Connection> {
    const usage = new UsageClient({ baseUrl: options.serviceUrl ?? baseUrl, apiKey: options.apiKey ?? keys[org], organizationId: options.organizationId, retryBaseDelayMs: 1 });
    const server = createExampleServer(usage, { runId: options.runId });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    if (options.sessionId) serverSide.sessionId = options.sessionId;
    await server.connect(serverSide);
    const network = new RedeliveringTransport(clientSide);
    const client = new Client({ name: 'e2e', version: '1.0.0' });
    await client.connect(network);
    const connection: Connection = {
      client,
      network,
      call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as ToolResult,
      runs: async () => ((await client.callTool({ name: 'tool_runs', arguments: {} })) as ToolResult).structuredContent as Record<string, number>,
      close: async () => {
        await client.close();
        await server.close();
      },
    };
    open.push(connection);
    return connection;
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    service = await startTestApp({ database });
    second = ON_POSTGRES ? await startTestApp({ database }) : service;
    const urlOf = async (t: TestApp) => (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    await service.app.listen(0, '127.0.0.1');
    baseUrl = await urlOf(service);
    if (second !== service) await second.app.listen(0, '127.0.0.1');
    secondUrl = await urlOf(second);
    service.app.getHttpServer().on('request', (req: IncomingMessage) => seen.push({ url: req.url ?? '', headers: req.headers }));
    for (const id of [org, other, raced]) {
      await service.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: id, plan: id === raced ? 'starter' : 'free' }).expect(201);
      const key = await service.http().post(`/api/admin/organizations/${id}/api-keys`).set(ADMIN).send({ name: 'mcp server', scopes: ['track'] }).expect(201);
      keys[id] = key.body.key as string;
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of open) await c.close().catch(() => undefined);
    if (second && second !== service) await second.close();
    await service?.close();
    await database?.drop();
  });

  it('lists the tools as the SDK registered them', async () => {
    const mcp = await connect();
    const { tools } = await mcp.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['complete', 'diagnose', 'export_pdf', 'tool_runs']);
  });

  it('charges a call exactly: a fixed price, and a price re-read from the units of its result', async () => {
    const mcp = await connect();
    const diagnosed = await mcp.call('diagnose', { text: 'the build fails', complexity: 2 });
    expect(diagnosed.isError).toBeUndefined();
    expect(diagnosed.content).toEqual([{ type: 'text', text: 'diagnosis of "the build fails": looks fine' }]);
    // structuring_diagnose: 10 base x complexity 2, of the free plan's 100.
    expect(diagnosed._meta?.[MCP_USAGE_META]).toMatchObject({ eventType: 'structuring_diagnose', creditsConsumed: 20, remainingCredits: 80, mode: 'sync' });
    expect(await summary(org)).toMatchObject({ used: 20, remaining: 80, events: 1 });

    // Held at 10 input tokens + 100 output tokens (1.32), charged at the 40 output tokens it produced:
    // 0.5 + 10 x 0.002 + 40 x 0.008 = 0.84.
    const prompt = 'Summarise the quarterly report, briefly.';
    expect(prompt).toHaveLength(40);
    const completed = await mcp.call('complete', { prompt, maxTokens: 100 });
    expect(completed.structuredContent).toEqual({ text: 'x'.repeat(40), inputTokens: 10, outputTokens: 40 });
    expect(completed._meta?.[MCP_USAGE_META]).toMatchObject({ eventType: 'llm_completion', creditsConsumed: 0.84, remainingCredits: 79.16 });
    expect(await summary(org)).toMatchObject({ used: 20.84, remaining: 79.16, events: 2 });
    expect(await mcp.runs()).toEqual({ diagnose: 1, complete: 1, export_pdf: 0 });
  });

  it('a tool that throws answers its error and charges nothing: the hold is given back', async () => {
    const mcp = await connect();
    const failed = await mcp.call('export_pdf', { title: ' ' });
    expect(failed.isError).toBe(true);
    expect(failed.content[0].text).toContain('the renderer needs a title');
    expect(failed._meta?.[MCP_USAGE_META]).toBeUndefined();
    expect(await mcp.runs()).toMatchObject({ export_pdf: 1 });
    // Nothing charged and nothing still held (a pending hold would count against what remains).
    expect(await summary(org)).toMatchObject({ used: 20.84, remaining: 79.16, events: 2 });
    // A failed call gave its key back: a retry of it (the same request id) runs again, and is not charged either.
    mcp.network.mode = 'retry';
    const again = await mcp.call('export_pdf', { title: '' });
    mcp.network.mode = 'none';
    expect(mcp.network.answers.map((a) => a.isError)).toEqual([true, true]);
    expect(again.content[0].text).toContain('the renderer needs a title');
    expect(await mcp.runs()).toMatchObject({ export_pdf: 3 });
    expect(await summary(org)).toMatchObject({ used: 20.84, remaining: 79.16, events: 2 });
    // The same tool that succeeds is charged its 2 credits.
    expect((await mcp.call('export_pdf', { title: 'Q3' }))._meta?.[MCP_USAGE_META]).toMatchObject({ creditsConsumed: 2 });
    expect(await summary(org)).toMatchObject({ used: 22.84, events: 3 });
  });

  it('a retry of the same call (the same request id, its first answer lost) runs the tool once and is charged once', async () => {
    const mcp = await connect({ sessionId: `retry-${suffix}` });
    mcp.network.mode = 'retry';
    const result = await mcp.call('diagnose', { text: 'flaky network', complexity: 1 });
    mcp.network.mode = 'none';
    // The client got the retry's answer: the first one, again, said to be a replay, with the first charge.
    expect(mcp.network.answers).toHaveLength(2);
    expect(result.content).toEqual(mcp.network.answers[0].content);
    expect(result._meta?.[MCP_REPLAYED_META]).toBe(true);
    expect(result._meta?.[MCP_USAGE_META]).toMatchObject({ creditsConsumed: 10, eventId: (mcp.network.answers[0]._meta?.[MCP_USAGE_META] as { eventId: string }).eventId });
    expect(await mcp.runs()).toMatchObject({ diagnose: 1 });
    expect(await summary(org)).toMatchObject({ used: 32.84, events: 4 });
  });

  it('two copies of one call at once: the tool runs once, one charge, the other copy answers the first or IDEMPOTENCY_IN_PROGRESS', async () => {
    const mcp = await connect({ sessionId: `dup-${suffix}` });
    mcp.network.mode = 'duplicate';
    await mcp.call('diagnose', { text: 'twice', complexity: 1 });
    for (let i = 0; i < 100 && mcp.network.answers.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    mcp.network.mode = 'none';
    expect(mcp.network.answers).toHaveLength(2);
    const kinds = mcp.network.answers.map((a) => (a.isError ? (a._meta?.[MCP_ERROR_META] as { error: string }).error : 'result')).sort();
    expect([['IDEMPOTENCY_IN_PROGRESS', 'result'], ['result', 'result']]).toContainEqual(kinds);
    expect(await mcp.runs()).toMatchObject({ diagnose: 1 });
    expect(await summary(org)).toMatchObject({ used: 42.84, events: 5 });
  });

  it('two connections without session ids are two sessions: their first calls (the same request id) are two calls', async () => {
    const [a, b] = [await connect(), await connect()];
    const [ra, rb] = [await a.call('diagnose', { text: 'a' }), await b.call('diagnose', { text: 'b', complexity: 1.5 })];
    expect(ra._meta?.[MCP_USAGE_META]).toMatchObject({ creditsConsumed: 10 });
    expect(rb._meta?.[MCP_USAGE_META]).toMatchObject({ creditsConsumed: 15 });
    expect(rb._meta?.[MCP_REPLAYED_META]).toBeUndefined();
    expect(await summary(org)).toMatchObject({ used: 67.84, events: 7 });
  });

  it("an MCP session as an agent run: its calls are charged to the run (X-Run-Id, asked once per session) and stop at the run's budget", async () => {
    // A run of 4 credits: room for the 2-credit exports (the failed one's hold too), not for a 10-credit diagnosis.
    const run = (await service.http().post(`/api/organizations/${org}/runs`).set(ADMIN).send({ budgetCredits: '4', label: 'mcp session' }).expect(201)).body as { id: string };
    const asked: string[] = [];
    const from = seen.length;
    const mcp = await connect({ sessionId: `agent-${suffix}`, runId: (session) => (asked.push(session.key), run.id) });
    await mcp.call('export_pdf', { title: 'one' });
    await mcp.call('export_pdf', { title: '' });
    expect(asked).toEqual([`agent-${suffix}`]);
    const metering = seen.slice(from).filter((r) => r.url.includes('/usage/reservations'));
    // reserve + commit of the first call, reserve + release of the failed one.
    expect(metering.map((r) => r.url.replace(/^.*\/usage\/reservations/, '').replace(/\/[^/]+\/(commit|release)$/, '/:id/$1'))).toEqual(['', '/:id/commit', '', '/:id/release']);
    for (const r of metering) expect(r.headers['x-run-id']).toBe(run.id);
    // The key of the first call names the session and its request id.
    expect(metering[0].headers['idempotency-key']).toMatch(new RegExp(`^mcp:agent-${suffix}:\\d+$`));
    // Past the run's budget: the refusal is the tool's error result, the tool never runs, nothing is charged.
    const before = await mcp.runs();
    const refused = await mcp.call('diagnose', { text: 'too much for the run', complexity: 1 });
    expect(refused.isError).toBe(true);
    expect(refused.content[0].text).toMatch(/^RUN_BUDGET_EXCEEDED: /);
    expect(refused._meta?.[MCP_ERROR_META]).toMatchObject({ statusCode: 402, error: 'RUN_BUDGET_EXCEEDED', details: { runId: run.id, limitingRunId: run.id, budgetCredits: '4', usedCredits: '2', requiredCredits: '10' } });
    expect(await mcp.runs()).toEqual(before);
    const shown = (await service.http().get(`/api/organizations/${org}/runs/${run.id}`).set(ADMIN).expect(200)).body;
    expect(shown).toMatchObject({ spentCredits: '2', heldCredits: '0', items: [expect.objectContaining({ eventType: 'export_pdf', events: 1, credits: '2' })] });
    expect(await summary(org)).toMatchObject({ used: 69.84, events: 8 });
  });

  it("refuses at the hard cap: the 402's code and reason as the tool's error result, and the tool never runs", async () => {
    // 25 credits through the service's own API: 5.16 of 100 left, less than a 10-credit diagnosis.
    await service
      .http()
      .post(`/api/organizations/${org}/usage/events`)
      .set(ADMIN)
      .send({ eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true } })
      .expect(201);
    const mcp = await connect();
    const before = await mcp.runs();
    const refused = await mcp.call('diagnose', { text: 'one more', complexity: 1 });
    expect(refused.isError).toBe(true);
    expect(refused.content[0].text).toMatch(/^CREDITS_EXHAUSTED: /);
    expect(refused._meta?.[MCP_ERROR_META]).toMatchObject({ statusCode: 402, error: 'CREDITS_EXHAUSTED', message: expect.any(String), details: { required: 10, remaining: 5.16 } });
    expect(await mcp.runs()).toEqual(before);
    expect(await summary(org)).toMatchObject({ used: 94.84, remaining: 5.16, events: 9 });
    // What fits still runs: a 2-credit export.
    expect((await mcp.call('export_pdf', { title: 'last' }))._meta?.[MCP_USAGE_META]).toMatchObject({ creditsConsumed: 2, remainingCredits: 3.16 });
  });

  it("another organization's key sees nothing: it cannot charge this organization, and the same session's keys are its own", async () => {
    const before = await summary(org);
    // A server configured with the other organization's key but naming this organization: refused, nothing runs.
    const intruder = await connect({ apiKey: keys[other], organizationId: org });
    const refused = await intruder.call('diagnose', { text: 'not mine' });
    expect(refused.isError).toBe(true);
    expect([403, 404]).toContain((refused._meta?.[MCP_ERROR_META] as { statusCode: number }).statusCode);
    expect(await intruder.runs()).toMatchObject({ diagnose: 0 });
    expect(await summary(org)).toEqual(before);

    // The other organization on a session id and request ids this organization used: its own calls,
    // charged to it, never a replay of this organization's answers.
    const theirs = await connect({ apiKey: keys[other], sessionId: `retry-${suffix}` });
    const result = await theirs.call('diagnose', { text: 'mine', complexity: 1 });
    expect(result._meta?.[MCP_REPLAYED_META]).toBeUndefined();
    expect(result._meta?.[MCP_USAGE_META]).toMatchObject({ creditsConsumed: 10, remainingCredits: 90 });
    expect(await summary(other)).toMatchObject({ used: 10, events: 1 });
    expect(await summary(org)).toEqual(before);
    // And its key reads nothing of this organization.
    const read = await fetch(`${baseUrl}/api/organizations/${org}/usage/events`, { headers: { authorization: `Bearer ${keys[other]}` } });
    expect([403, 404]).toContain(read.status);
  });

  it("docs/mcp.md's and the package README's TypeScript is the example's code, as run here", () => {
    const page = (...path: string[]) => readFileSync(join(process.cwd(), ...path), 'utf8');
    const tsBlocks = (text: string) => [...text.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]);
    const readme = page('libs', 'nest-client', 'README.md');
    const blocks = [...tsBlocks(page('docs', 'mcp.md')), ...tsBlocks(readme.slice(readme.indexOf('## MCP tool calls')))];
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const sources = ['server.ts', 'main.ts'].map((f) => page('examples', 'mcp-server', 'src', f)).join('\n');
    for (const block of blocks) {
      for (const chunk of block.split(/^\s*\/\/ …\n/m)) expect(sources).toContain(chunk);
    }
  });

  it('the same call reaching two MCP servers on two service instances at once (one session, one request id): one run, one charge, many rounds', async () => {
    const rounds = 15;
    for (let round = 0; round < rounds; round++) {
      // Two replicas of the server behind a balancer, each handed a copy of the session's first call.
      const sessionId = `race-${suffix}-${round}`;
      const [a, b] = [await connect({ apiKey: keys[raced], sessionId, serviceUrl: baseUrl }), await connect({ apiKey: keys[raced], sessionId, serviceUrl: secondUrl })];
      const answers = await Promise.all([a.call('diagnose', { text: `round ${round}`, complexity: 1 }), b.call('diagnose', { text: `round ${round}`, complexity: 1 })]);
      const runs = (await a.runs()).diagnose + (await b.runs()).diagnose;
      expect(runs).toBe(1);
      for (const answer of answers) {
        if (answer.isError) expect(answer._meta?.[MCP_ERROR_META]).toMatchObject({ error: 'IDEMPOTENCY_IN_PROGRESS' });
        else expect(answer._meta?.[MCP_USAGE_META]).toMatchObject({ creditsConsumed: 10 });
      }
      expect(answers.some((x) => !x.isError)).toBe(true);
      await Promise.all([a.close(), b.close()]);
    }
    // starter: 1,000 credits; one 10-credit charge a round.
    expect(await summary(raced)).toMatchObject({ used: rounds * 10, events: rounds });
  }, 120_000);

  it('quantities past their bounds are the tool error result (400, 422), never a 500, and nothing runs or is charged', async () => {
    const usage = new UsageClient({ baseUrl, apiKey: keys[other] });
    const server = new McpServer({ name: 'bounds', version: '1.0.0' });
    const metering = new MeteredMcpTools(server, usage);
    let ran = 0;
    server.registerTool(
      'tokens',
      { inputSchema: { tokens: z.number() } },
      metering.tool({ eventType: 'llm_completion', estimate: ({ tokens }) => ({ inputTokens: tokens, outputTokens: 0 }) }, async () => {
        ran++;
        return { content: [] };
      }),
    );
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'e2e', version: '1.0.0' });
    await client.connect(clientSide);
    const before = await summary(other);
    const codeOf = async (tokens: number) => {
      const result = (await client.callTool({ name: 'tokens', arguments: { tokens } })) as ToolResult;
      expect(result.isError).toBe(true);
      const body = result._meta?.[MCP_ERROR_META] as { statusCode: number; error: string };
      return `${body.statusCode} ${body.error}`;
    };
    // 10^12 + 1 tokens: past a quantity's bound; 10^12 at 0.002: 2 x 10^9 credits, past an event's price bound.
    expect(await codeOf(1e12 + 1)).toBe('400 VALIDATION_FAILED');
    expect(await codeOf(1.5)).toBe('400 VALIDATION_FAILED');
    expect(await codeOf(1e12)).toBe('422 AMOUNT_OUT_OF_BOUNDS');
    expect(ran).toBe(0);
    expect(await summary(other)).toEqual(before);
    await client.close();
  });
});
