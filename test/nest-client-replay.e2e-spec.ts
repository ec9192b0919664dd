import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Body, Controller, Get, HttpCode, Injectable, Module, Post } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrackUsage, UsageClientModule } from '../libs/nest-client/src';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startInstancePair } from './utils/test-app';
import type { InstancePair, TestApp } from './utils/test-app';

/**
 * The replay protocol through the client package, in an Express host (in this process, against the
 * service listening on a port): a replayed Idempotency-Key never runs the host's handler again, on either
 * host (each talking to its own service instance on one PostgreSQL), and a commit whose answer was lost
 * reports the charge it made.
 */

/** What the host's handler does: counted, optionally held at a gate, optionally a large answer. */
@Injectable()
class Work {
  calls = 0;
  gate?: Promise<void>;
  answerBytes = 0;

  async run(text: string): Promise<Record<string, unknown>> {
    this.calls++;
    if (this.gate) await this.gate;
    return { summary: text, padding: 'p'.repeat(this.answerBytes) };
  }
}

@Controller('ai')
class HostController {
  constructor(private readonly work: Work) {}

  @Post('summarize')
  @HttpCode(200)
  @TrackUsage<{ body: { complexity?: number } }>('structuring_diagnose', { eventData: (req) => ({ complexity: req.body.complexity ?? 1 }) })
  summarize(@Body() body: { text?: string }) {
    return this.work.run(body.text ?? '');
  }

  @Get('calls')
  calls() {
    return { calls: this.work.calls };
  }
}

interface Host {
  app: INestApplication;
  url: string;
  work: Work;
  /** Commits whose answer is dropped on the way back (the commit itself reached the service). */
  loseCommitAnswers: number;
}

describe('@credit-metering/nest-client: idempotent replay in an Express host', () => {
  let a: TestApp;
  let b: TestApp;
  let pair: InstancePair | undefined;
  let hostA: Host;
  let hostB: Host;
  let journalDir: string;
  const org = `replay-host-${Math.random().toString(36).slice(2, 7)}`;

  async function startHost(serviceUrl: string, apiKey: string): Promise<Host> {
    const host = { loseCommitAnswers: 0 } as Host;
    // The network between host and service: a commit's answer can be lost after the service committed.
    const lossy: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (String(input).endsWith('/commit') && host.loseCommitAnswers > 0) {
        host.loseCommitAnswers--;
        await response.text();
        throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
      }
      return response;
    };
    @Module({
      imports: [UsageClientModule.forRoot({ baseUrl: serviceUrl, apiKey, organizationId: org, fetch: lossy, retryBaseDelayMs: 1, journalPath: join(journalDir, `${Math.random()}.jsonl`), maxAnswerBytes: 4_096 })],
      controllers: [HostController],
      providers: [Work],
    })
    class HostModule {}
    const app = await NestFactory.create(HostModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    host.app = app;
    host.url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    host.work = app.get(Work);
    return host;
  }
  // Bounded: a duplicate that ran the handler would wait at the gate (the bug), not answer.
  const summarize = (host: Host, key: string, body: Record<string, unknown>) =>
    fetch(`${host.url}/ai/summarize`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const calls = () => hostA.work.calls + (hostB === hostA ? 0 : hostB.work.calls);
  const answerOf = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, unknown>, consumed: res.headers.get('x-credits-consumed'), remaining: res.headers.get('x-credits-remaining') });

  beforeAll(async () => {
    pair = await startInstancePair();
    ({ a, b } = pair);
    await a.app.listen(0, '127.0.0.1');
    if (b !== a) await b.app.listen(0, '127.0.0.1');
    await a.http().post('/api/admin/organizations').set(ADMIN).send({ id: org, name: org, plan: 'free' }).expect(201);
    const key = await a.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name: 'host', scopes: ['track', 'read'] }).expect(201);
    journalDir = mkdtempSync(join(tmpdir(), 'replay-journal-'));
    const urlOf = async (t: TestApp) => (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    hostA = await startHost(await urlOf(a), key.body.key);
    hostB = b === a ? hostA : await startHost(await urlOf(b), key.body.key);
  }, 60_000);

  afterAll(async () => {
    await hostA?.app.close();
    if (hostB && hostB !== hostA) await hostB.app.close();
    await pair?.close();
    if (journalDir) rmSync(journalDir, { recursive: true, force: true });
  });

  it('a replay of a completed request gets the same status, body and usage headers from either host; the handler ran once', async () => {
    const first = await answerOf(await summarize(hostA, 'host-k1', { text: 'hello', complexity: 2 }));
    expect(first).toMatchObject({ status: 200, consumed: '20', remaining: '80', body: { summary: 'hello', usage: { creditsConsumed: 20 } } });
    expect(calls()).toBe(1);
    for (let i = 0; i < 4; i++) {
      const res = await summarize(i % 2 === 0 ? hostB : hostA, 'host-k1', { text: 'hello', complexity: 2 });
      expect(res.headers.get('idempotent-replayed')).toBe('true');
      expect(await answerOf(res)).toEqual(first);
    }
    expect(calls()).toBe(1);
    expect((await ledgerState(a.dataSource, org)).events.n).toBe(1);
    await expectLedgerConsistent(a.dataSource, org);
  });

  it('a duplicate while the first is still running is 409 IDEMPOTENCY_IN_PROGRESS with Retry-After; the handler runs once', async () => {
    const before = calls();
    let open!: () => void;
    hostA.work.gate = new Promise<void>((resolve) => (open = resolve));
    try {
      const first = summarize(hostA, 'host-k2', { text: 'slow' });
      while (calls() === before) await new Promise((r) => setTimeout(r, 5));
      const dup = await summarize(hostB, 'host-k2', { text: 'slow' });
      expect(dup.status).toBe(409);
      expect(await dup.json()).toMatchObject({ error: 'IDEMPOTENCY_IN_PROGRESS', details: { idempotencyKey: 'host-k2' } });
      // The hold's TTL (600 s by default) bounds how long the first request can still be running.
      expect(Number(dup.headers.get('retry-after'))).toBeGreaterThan(590);
      open();
      expect((await first).status).toBe(200);
    } finally {
      open();
      hostA.work.gate = undefined;
    }
    expect(calls()).toBe(before + 1);
    const replay = await summarize(hostB, 'host-k2', { text: 'slow' });
    expect(replay.status).toBe(200);
    expect(calls()).toBe(before + 1);
    await expectLedgerConsistent(a.dataSource, org);
  });

  it('an answer past maxAnswerBytes is not kept: the replay is 409 IDEMPOTENCY_REPLAYED with the original charge, never a second run', async () => {
    const before = calls();
    hostA.work.answerBytes = 5_000;
    hostB.work.answerBytes = 5_000;
    try {
      const first = await summarize(hostA, 'host-k3', { text: 'big' });
      expect(first.status).toBe(200);
      const charged = ((await first.json()) as { usage: { eventId: string; creditsConsumed: number } }).usage;
      const replay = await summarize(hostB, 'host-k3', { text: 'big' });
      expect(replay.status).toBe(409);
      expect(await replay.json()).toMatchObject({ error: 'IDEMPOTENCY_REPLAYED', details: { eventId: charged.eventId, creditsConsumed: charged.creditsConsumed, reason: 'too_large' } });
    } finally {
      hostA.work.answerBytes = 0;
      hostB.work.answerBytes = 0;
    }
    expect(calls()).toBe(before + 1);
    await expectLedgerConsistent(a.dataSource, org);
  });

  it('a commit whose answer is lost and is retried reports the charge it made (10), not 0', async () => {
    hostA.loseCommitAnswers = 1;
    const res = await summarize(hostA, 'host-k4', { text: 'lost', complexity: 1 });
    expect(hostA.loseCommitAnswers).toBe(0);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-credits-consumed')).toBe('10');
    const body = (await res.json()) as { usage: { creditsConsumed: number; eventId: string; duplicate?: boolean } };
    expect(body.usage).toMatchObject({ creditsConsumed: 10 });
    expect(body.usage.duplicate).toBeUndefined();
    const [event] = await a.dataSource.query(`SELECT credits::text FROM usage_events WHERE organization_id = $1 AND id = $2`, [org, body.usage.eventId]);
    expect(event).toEqual({ credits: '10.000000' });
    await expectLedgerConsistent(a.dataSource, org);
  });
});
