import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import { FakeClock } from '../src/common/clock/clock';
import { AiToolsService } from '../src/modules/ai-tools/ai-tools.service';
import { ReservationsService } from '../src/modules/usage/reservations.service';
import { ADMIN, startInstancePair, startTestApp, TestApp } from './utils/test-app';
import type { InstancePair } from './utils/test-app';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { ON_POSTGRES } from './utils/test-database';
import { llmPrice, parseSse, shown } from './utils/sse';

/**
 * Streamed responses through the service's own @TrackUsage (Fastify): the stand-in language model with
 * `"stream": true` (16 output tokens per event, llm_completion: base 0.5, inputTokens 0.002, outputTokens
 * 0.008). Held in steps of 256 output tokens, charged at the tokens delivered, stopped at the cap.
 */
let seq = 0;
const price = llmPrice;

describe('streamed responses (@TrackUsage, service)', () => {
  let t: TestApp;
  let base: string;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ clock, config: { llmStreamChunkMs: 2 } });
    await t.app.listen(0, '127.0.0.1');
    const address = t.app.getHttpServer().address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await t?.close();
  });

  async function createOrg(plan = 'free'): Promise<string> {
    const id = `stream-${++seq}`;
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: id, plan }).expect(201);
    return id;
  }
  const complete = (org: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.http().post('/api/llm/complete').set(ADMIN).set('X-Organization-Id', org).set(headers).send(body);
  const stream = async (org: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const res = await complete(org, { ...body, stream: true }, headers)
      .buffer(true)
      .parse((r, cb) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (text += c));
        r.on('end', () => cb(null, text));
      });
    return { res, sse: res.status === 200 ? parseSse(res.body as string) : undefined };
  };
  const events = (org: string) =>
    (t.dataSource.query(`SELECT credits::text AS credits, breakdown FROM usage_events WHERE organization_id = $1 ORDER BY recorded_at, occurred_at`, [org]) as Promise<Array<{ credits: string; breakdown: { units: Record<string, { quantity: number }>; stopReason?: string } }>>).then((rows) =>
      rows.map((r) => ({ credits: r.credits, event_data: { stopReason: r.breakdown.stopReason, units: Object.fromEntries(Object.entries(r.breakdown.units ?? {}).map(([k, v]) => [k, v.quantity])) } })),
    );
  const reservations = (org: string) => t.dataSource.query(`SELECT id, status, credits::text AS credits FROM reservations WHERE organization_id = $1`, [org]) as Promise<Array<{ id: string; status: string; credits: string }>>;
  const remaining = async (org: string) => (await t.http().get(`/api/organizations/${org}/usage`).set(ADMIN).expect(200)).body.remaining as number;
  /** Waits for the stream's settlement (after a disconnect it happens once the server notices). */
  async function settled(org: string): Promise<Array<{ id: string; status: string; credits: string }>> {
    for (let i = 0; i < 400; i++) {
      const rows = await reservations(org);
      if (rows.length > 0 && rows.every((r) => r.status !== 'pending')) return rows;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the stream was never settled');
  }
  /** Spends the free plan's 100 credits down to `left`, with one priced event. */
  async function spendDownTo(org: string, left: string): Promise<void> {
    const spend = new Big(100).minus(left).minus('0.5');
    // outputTokens at 0.008: spend / 0.008 tokens, the rest in inputTokens at 0.002.
    const output = Number(spend.div('0.008').round(0, Big.roundDown).toString());
    const input = Number(spend.minus(new Big(output).times('0.008')).div('0.002').toString());
    await t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ eventType: 'llm_completion', eventData: { units: { inputTokens: input, outputTokens: output } } }).expect(201);
    expect(await remaining(org)).toBe(Number(left));
  }

  it('streams 16 tokens per event and charges exactly the units delivered, extending the hold in steps', async () => {
    const org = await createOrg('starter');
    const { res, sse } = await stream(org, { prompt: 'hello world!', maxTokens: 600 });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(sse!.data).toHaveLength(38); // 37 x 16 + 8
    expect(sse!.data[0]).toEqual({ delta: expect.any(String), outputTokens: 16 });
    expect(sse!.data.reduce((n, c) => n + (c.outputTokens as number), 0)).toBe(600);
    expect(sse!.usage).toEqual({ creditsConsumed: shown(price(3, 600)), units: { inputTokens: 3, outputTokens: 600 }, stopReason: 'complete' });
    const [event] = await events(org);
    expect(event.credits).toBe(price(3, 600).toFixed(6));
    expect(event.event_data).toMatchObject({ units: { inputTokens: 3, outputTokens: 600 }, stopReason: 'complete' });
    const [hold] = await reservations(org);
    expect(hold.status).toBe('committed');
    expect(await remaining(org)).toBe(shown(new Big(1000).minus(price(3, 600))));
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('a stream that cannot hold its next step stops after the last paid-for chunk (hard cap): charged what it received, never past the cap', async () => {
    const org = await createOrg('free');
    await spendDownTo(org, '3');
    // First hold: 0.5 + 3 x 0.002 + 256 x 0.008 = 2.554; the next step (512 tokens, 4.602) does not fit in 3.
    const { res, sse } = await stream(org, { prompt: 'hello world!', maxTokens: 2000 });
    expect(res.status).toBe(200);
    expect(sse!.data).toHaveLength(16);
    expect(sse!.usage).toEqual({ creditsConsumed: shown(price(3, 256)), units: { inputTokens: 3, outputTokens: 256 }, stopReason: 'credit_limit' });
    await settled(org);
    const rows = await events(org);
    expect(rows[1].event_data.stopReason).toBe('credit_limit');
    expect(rows[1].credits).toBe(price(3, 256).toFixed(6));
    expect(await remaining(org)).toBe(shown(new Big(3).minus(price(3, 256))));
    await expectLedgerConsistent(t.dataSource, org);
  });

  it("a run's budget cuts a stream off like a cap: stopped after the last chunk paid for, the run charged no more than its budget", async () => {
    const org = await createOrg('starter');
    const run = (await t.http().post(`/api/organizations/${org}/runs`).set(ADMIN).send({ budgetCredits: 3, label: 'streaming agent' }).expect(201)).body;
    // First hold 2.554 fits the run's 3 credits; the next step (4.602) would pass it: 402 RUN_BUDGET_EXCEEDED.
    const { res, sse } = await stream(org, { prompt: 'hello world!', maxTokens: 2000 }, { 'X-Run-Id': run.id });
    expect(res.status).toBe(200);
    expect(sse!.data).toHaveLength(16);
    expect(sse!.usage).toEqual({ creditsConsumed: shown(price(3, 256)), units: { inputTokens: 3, outputTokens: 256 }, stopReason: 'credit_limit' });
    const after = (await t.http().get(`/api/organizations/${org}/runs/${run.id}`).set(ADMIN).expect(200)).body;
    expect(after.spentCredits).toBe(price(3, 256).toString());
    expect(await remaining(org)).toBe(shown(new Big(1000).minus(price(3, 256))));
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('a cap that does not cover the first step is a 402 before the first byte: the model never runs', async () => {
    const org = await createOrg('free');
    await spendDownTo(org, '2');
    const { res } = await stream(org, { prompt: 'hello world!', maxTokens: 2000 });
    expect(res.status).toBe(402);
    expect(JSON.parse(res.body as string).error).toBe('CREDITS_EXHAUSTED');
    expect(await reservations(org)).toHaveLength(0);
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('a client that goes away after a few chunks is charged what was delivered (bill-delivered); the model stops', async () => {
    const org = await createOrg('starter');
    const abort = new AbortController();
    const res = await fetch(`${base}/api/llm/complete`, {
      method: 'POST',
      headers: { ...ADMIN, 'x-organization-id': org, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'hello world!', maxTokens: 2000, stream: true }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/^data: /gm) ?? []).length < 3) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    const [hold] = await settled(org);
    expect(hold.status).toBe('committed');
    const [event] = await events(org);
    const output = (event.event_data.units as { outputTokens: number }).outputTokens;
    expect(event.event_data.stopReason).toBe('client_disconnect');
    expect(output % 16).toBe(0);
    expect(output).toBeGreaterThanOrEqual(48);
    // Stopped where the client left (a chunk or two in flight), far from the 2,000 asked for.
    expect(output).toBeLessThan(16 * 12);
    expect(event.credits).toBe(price(3, output).toFixed(6));
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('a handler that throws mid-stream: charged what was delivered, the rest released, a last usage event says error', async () => {
    const org = await createOrg('starter');
    const { res, sse } = await stream(org, { prompt: 'hello world!', maxTokens: 600, simulateFailureAfter: 3 });
    expect(res.status).toBe(200);
    expect(sse!.data).toHaveLength(3);
    expect(sse!.usage).toEqual({ creditsConsumed: shown(price(3, 48)), units: { inputTokens: 3, outputTokens: 48 }, stopReason: 'error' });
    expect((await events(org))[0].credits).toBe(price(3, 48).toFixed(6));
    expect(await remaining(org)).toBe(shown(new Big(1000).minus(price(3, 48))));
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('a handler that throws before its first chunk answers its own error; nothing is charged', async () => {
    const org = await createOrg('starter');
    const { res } = await stream(org, { prompt: 'hello world!', maxTokens: 600, simulateFailureAfter: 0 });
    expect(res.status).toBe(503);
    expect(await events(org)).toHaveLength(0);
    expect((await reservations(org))[0].status).toBe('released');
    expect(await remaining(org)).toBe(1000);
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('a stream longer than its first hold lifetime keeps its hold alive (the sweep never takes it)', async () => {
    const org = await createOrg('starter');
    const sweep = t.app.get(ReservationsService);
    // A minute of model time per chunk, passing as the model makes it (32 chunks run 32 minutes, past the first
    // hold's 10). Advanced by the reader instead, the clock jumped by every chunk that sat in the socket's
    // buffers at once, minutes the stream had not lived yet: once in CI the sweep then found the hold due.
    const tools = t.app.get(AiToolsService);
    const original = tools.completeStream.bind(tools);
    tools.completeStream = async function* (body) {
      for await (const chunk of original(body)) {
        clock.advance(60_000);
        yield chunk;
      }
    };
    const start = clock.now().getTime();
    let text = '';
    try {
      const res = await fetch(`${base}/api/llm/complete`, {
        method: 'POST',
        headers: { ...ADMIN, 'x-organization-id': org, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'hello world!', maxTokens: 512, stream: true }),
      });
      const reader = res.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        expect(await sweep.expireDue()).toBe(0);
      }
    } finally {
      tools.completeStream = original;
    }
    expect(clock.now().getTime() - start).toBeGreaterThan(600_000);
    const sse = parseSse(text);
    expect(sse.usage).toEqual({ creditsConsumed: shown(price(3, 512)), units: { inputTokens: 3, outputTokens: 512 }, stopReason: 'complete' });
    expect((await reservations(org))[0].status).toBe('committed');
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('a replay of a streamed request under its Idempotency-Key never runs it again (409 IDEMPOTENCY_REPLAYED with the charge)', async () => {
    const org = await createOrg('starter');
    const key = `stream-key-${seq}`;
    const first = await stream(org, { prompt: 'hello world!', maxTokens: 64 }, { 'Idempotency-Key': key });
    expect(first.sse!.usage!.stopReason).toBe('complete');
    const again = await stream(org, { prompt: 'hello world!', maxTokens: 64 }, { 'Idempotency-Key': key });
    expect(again.res.status).toBe(409);
    expect(JSON.parse(again.res.body as string)).toMatchObject({ error: 'IDEMPOTENCY_REPLAYED', details: { creditsConsumed: shown(price(3, 64)) } });
    expect(await events(org)).toHaveLength(1);
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('maxTokens at its bound (2,000) streams it all; past it, or not a whole number, is a 400 before anything is held', async () => {
    const org = await createOrg('professional');
    const { sse } = await stream(org, { prompt: 'x', maxTokens: 2000 });
    expect(sse!.usage).toEqual({ creditsConsumed: shown(price(1, 2000)), units: { inputTokens: 1, outputTokens: 2000 }, stopReason: 'complete' });
    for (const maxTokens of [2001, 0, 1.5, '10', Number.MAX_SAFE_INTEGER]) {
      const { res } = await stream(org, { prompt: 'x', maxTokens });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body as string).error).toBe('VALIDATION_FAILED');
    }
    expect(await reservations(org)).toHaveLength(1);
    await expectLedgerConsistent(t.dataSource, org);
  });

  describe('POST …/usage/reservations/:id/extend', () => {
    const reserve = (org: string, units: Record<string, number>) =>
      t.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).send({ eventType: 'llm_completion', eventData: { units } }).expect(201);
    const extend = (org: string, id: string, body: unknown) => t.http().post(`/api/organizations/${org}/usage/reservations/${id}/extend`).set(ADMIN).send(body as object);

    it('grows the hold by the price difference, once: the same target again debits nothing', async () => {
      const org = await createOrg('starter');
      const hold = (await reserve(org, { inputTokens: 10, outputTokens: 256 })).body;
      expect(hold.credits).toBe(shown(price(10, 256)));
      const res = await extend(org, hold.reservationId, { eventData: { units: { inputTokens: 10, outputTokens: 512 } } }).expect(200);
      expect(res.body).toMatchObject({ reservationId: hold.reservationId, credits: shown(price(10, 512)), addedCredits: 2.05, status: 'pending' });
      const again = await extend(org, hold.reservationId, { eventData: { units: { inputTokens: 10, outputTokens: 512 } } }).expect(200);
      expect(again.body).toMatchObject({ credits: shown(price(10, 512)), addedCredits: 0 });
      expect(await remaining(org)).toBe(shown(new Big(1000).minus(price(10, 512))));
      await expectLedgerConsistent(t.dataSource, org);
      // The commit of fewer units gives the rest back.
      await t.http().post(`/api/organizations/${org}/usage/reservations/${hold.reservationId}/commit`).set(ADMIN).send({ eventData: { units: { inputTokens: 10, outputTokens: 300 } } }).expect(200);
      expect(await remaining(org)).toBe(shown(new Big(1000).minus(price(10, 300))));
      await expectLedgerConsistent(t.dataSource, org);
    });

    it('refuses an extension past the cap with 402 and leaves the hold as it was', async () => {
      const org = await createOrg('free');
      await spendDownTo(org, '3');
      const hold = (await reserve(org, { inputTokens: 3, outputTokens: 256 })).body;
      const res = await extend(org, hold.reservationId, { eventData: { units: { inputTokens: 3, outputTokens: 512 } } }).expect(402);
      expect(res.body.error).toBe('CREDITS_EXHAUSTED');
      expect((await reservations(org))[0].credits).toBe(price(3, 256).toFixed(6));
      await t.http().post(`/api/organizations/${org}/usage/reservations/${hold.reservationId}/release`).set(ADMIN).expect(200);
      expect(await remaining(org)).toBe(3);
      await expectLedgerConsistent(t.dataSource, org);
    });

    it('a hold told what was delivered and left to expire (its host died) is charged that, once; a late commit is 409 with that charge', async () => {
      const org = await createOrg('starter');
      const hold = (await reserve(org, { inputTokens: 10, outputTokens: 256 })).body;
      // What was delivered may never cost more than what the hold covers: 400, and nothing kept.
      const tooMuch = await extend(org, hold.reservationId, { eventData: { units: { inputTokens: 10, outputTokens: 512 } }, delivered: { units: { inputTokens: 10, outputTokens: 600 } } }).expect(400);
      expect(tooMuch.body.details.fields.delivered).toBeDefined();
      await extend(org, hold.reservationId, { eventData: { units: { inputTokens: 10, outputTokens: 512 } }, delivered: { units: { inputTokens: 10, outputTokens: 256 } } }).expect(200);
      // A later extension without `delivered` (or one that needs no debit) keeps the last one told.
      await extend(org, hold.reservationId, { eventData: { units: { inputTokens: 10, outputTokens: 512 } }, ttlSeconds: 60 }).expect(200);
      clock.advance(3600_000);
      const late = await t.http().post(`/api/organizations/${org}/usage/reservations/${hold.reservationId}/commit`).set(ADMIN).send({ eventData: { units: { inputTokens: 10, outputTokens: 512 } } }).expect(409);
      expect(late.body).toMatchObject({ error: 'RESERVATION_SETTLED', details: { status: 'committed', creditsConsumed: shown(price(10, 256)) } });
      const [event] = await events(org);
      expect(event.event_data).toEqual({ stopReason: 'hold_expired', units: { inputTokens: 10, outputTokens: 256 } });
      expect(await remaining(org)).toBe(shown(new Big(1000).minus(price(10, 256))));
      // The sweep finds nothing more to do: charged once.
      expect(await t.app.get(ReservationsService).expireDue()).toBe(0);
      expect(await events(org)).toHaveLength(1);
      await expectLedgerConsistent(t.dataSource, org);
    });

    it('bad input is a 400, another organization\'s hold is not found, a settled one is 409', async () => {
      const org = await createOrg('starter');
      const other = await createOrg('starter');
      const hold = (await reserve(org, { inputTokens: 1, outputTokens: 16 })).body;
      await extend(org, hold.reservationId, {}).expect(400);
      await extend(org, hold.reservationId, { eventData: { units: { outputTokens: -1 } } }).expect(400);
      await extend(org, hold.reservationId, { eventData: { units: { outputTokens: 16 } }, ttlSeconds: 86_401 }).expect(400);
      await extend(org, hold.reservationId, { eventData: { units: { outputTokens: Number.MAX_SAFE_INTEGER } } }).expect((r) => expect([400, 402, 422]).toContain(r.status));
      await extend(org, hold.reservationId, { eventData: { units: { outputTokens: 32 } }, delivered: 'all of it' }).expect(400);
      await extend(org, hold.reservationId, { eventData: { units: { outputTokens: 32 } }, delivered: { units: { outputTokens: Number.MAX_SAFE_INTEGER } } }).expect((r) => expect([400, 422]).toContain(r.status));
      await extend(org, hold.reservationId, { eventData: { units: { outputTokens: 32 } }, delivered: { units: { outputTokens: -1 } } }).expect(400);
      // None of these kept anything with the hold.
      expect(await t.dataSource.query(`SELECT delivered_data FROM reservations WHERE id = $1`, [hold.reservationId])).toEqual([{ delivered_data: null }]);
      await extend(other, hold.reservationId, { eventData: { units: { outputTokens: 32 } } }).expect(404);
      await t.http().post(`/api/organizations/${org}/usage/reservations/${hold.reservationId}/release`).set(ADMIN).expect(200);
      await extend(org, hold.reservationId, { eventData: { units: { outputTokens: 32 } } }).expect(409);
      await expectLedgerConsistent(t.dataSource, org);
    });
  });
});

describe(`extensions under concurrency${ON_POSTGRES ? ', two instances on one database' : ''}`, () => {
  let a: TestApp;
  let b: TestApp;
  let pair: InstancePair | undefined;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    pair = await startInstancePair({ clock });
    ({ a, b } = pair);
  });
  afterAll(async () => {
    await pair?.close();
  });

  async function createOrg(plan = 'free'): Promise<string> {
    const id = `stream-race-${++seq}-${Math.random().toString(36).slice(2, 7)}`;
    await a.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: id, plan }).expect(201);
    return id;
  }
  const reserve = (t: TestApp, org: string, output: number, auth: Record<string, string> = ADMIN) =>
    t.http().post(`/api/organizations/${org}/usage/reservations`).set(auth).send({ eventType: 'llm_completion', eventData: { units: { inputTokens: 0, outputTokens: output } } });
  const extend = (t: TestApp, org: string, id: string, output: number, auth: Record<string, string> = ADMIN) =>
    t.http().post(`/api/organizations/${org}/usage/reservations/${id}/extend`).set(auth).send({ eventData: { units: { inputTokens: 0, outputTokens: output } } });

  it('the cap is never passed, and an extension sent twice at once is debited once', async () => {
    const rounds = ON_POSTGRES ? 20 : 5;
    for (let round = 0; round < rounds; round++) {
      const org = await createOrg();
      // 4 holds of 0.5 + 256 x 0.008 = 2.548 (10.192 of 100), then every hold extends in steps, each step sent
      // twice at once through both instances, until the cap refuses: never past 100, every hold its own price.
      const holds = (await Promise.all(Array.from({ length: 4 }, (_, i) => reserve(i % 2 ? b : a, org, 256)))).map((r) => {
        expect(r.status).toBe(201);
        return { id: r.body.reservationId as string, output: 256 };
      });
      for (let step = 0; step < 14; step++) {
        await Promise.all(
          holds.map(async (h) => {
            const target = h.output + 256 + 64 * (round % 3);
            const [x, y] = await Promise.all([extend(a, org, h.id, target), extend(b, org, h.id, target)]);
            expect([x.status, y.status].every((s) => s === 200 || s === 402)).toBe(true);
            // Both or neither: the second finds the target covered (0 added) or both are refused.
            expect(x.status).toBe(y.status);
            if (x.status === 200) {
              expect([x.body.addedCredits, y.body.addedCredits].filter((c: number) => c > 0).length).toBe(1);
              h.output = target;
            }
          }),
        );
      }
      const rows = (await a.dataSource.query(`SELECT id, credits::text AS credits FROM reservations WHERE organization_id = $1 AND status = 'pending'`, [org])) as Array<{ id: string; credits: string }>;
      for (const h of holds) expect(rows.find((r) => r.id === h.id)!.credits).toBe(price(0, h.output).toFixed(6));
      const state = await ledgerState(a.dataSource, org);
      expect(Number(state.balances.consumed)).toBeLessThanOrEqual(100);
      // Far more was asked (4 x 14 steps of 2 credits) than fits: the cap was reached to within one step.
      expect(Number(state.balances.consumed)).toBeGreaterThan(100 - 4 * 2.6);
      await expectLedgerConsistent(a.dataSource, org);
    }
  });

  it("an extension counts against the key's budget like a hold (402 BUDGET_EXCEEDED past it)", async () => {
    const org = await createOrg('professional');
    const key = await a.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name: 'streams', scopes: ['track', 'read'] }).expect(201);
    const auth = { Authorization: `Bearer ${key.body.key}` };
    await a.http().post(`/api/admin/organizations/${org}/budgets`).set(ADMIN).send({ scope: 'apiKey', subject: key.body.id, credits: 5, period: 'month' }).expect(201);
    const hold = await reserve(a, org, 256, auth).expect(201);
    await extend(b, org, hold.body.reservationId, 512, auth).expect(200);
    const refused = await extend(a, org, hold.body.reservationId, 768, auth).expect(402);
    expect(refused.body.error).toBe('BUDGET_EXCEEDED');
    const [usage] = await a.dataSource.query(`SELECT used::text AS used FROM budget_usage WHERE organization_id = $1`, [org]);
    expect(usage.used).toBe(price(0, 512).toFixed(6));
    await a.http().post(`/api/organizations/${org}/usage/reservations/${hold.body.reservationId}/commit`).set(auth).send({ eventData: { units: { inputTokens: 0, outputTokens: 300 } } }).expect(200);
    const [after] = await a.dataSource.query(`SELECT used::text AS used FROM budget_usage WHERE organization_id = $1`, [org]);
    expect(after.used).toBe(price(0, 300).toFixed(6));
    await expectLedgerConsistent(a.dataSource, org);
  });
});
