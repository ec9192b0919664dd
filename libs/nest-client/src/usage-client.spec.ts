import { describe, expect, it } from '@jest/globals';
import { MeteringError, MeteringUnavailableError } from './metering-error';
import { UsageClient } from './usage-client';

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A fake transport: each call takes the next answer (a Response, or an error to throw). */
function fakeFetch(answers: Array<Response | Error>) {
  const calls: Call[] = [];
  const fn = (async (url: string, init: RequestInit) => {
    calls.push({ url, method: init.method!, headers: init.headers as Record<string, string>, body: init.body ? JSON.parse(init.body as string) : undefined });
    const next = answers.shift();
    if (!next) throw new Error('no more answers');
    if (next instanceof Error) throw next;
    return next;
  }) as unknown as typeof fetch;
  return { fn, calls };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const refused = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
const hold = { reservationId: 'r1', eventType: 'e', credits: 10, expiresAt: '2026-12-01T00:10:00.000Z', remainingCredits: 90, status: 'pending', duplicate: false };

function client(answers: Array<Response | Error>, options: { organizationId?: string; retries?: number } = { organizationId: 'acme' }) {
  const transport = fakeFetch(answers);
  const waits: number[] = [];
  const c = new UsageClient({ baseUrl: 'http://metering:5000/', apiKey: 'nxk_test', ...options, fetch: transport.fn, sleep: async (ms) => void waits.push(ms) });
  return { c, calls: transport.calls, waits };
}

describe('UsageClient', () => {
  it('reserves with a generated idempotency key, in the body and the header, with the key as bearer', async () => {
    const { c, calls } = client([json(201, hold)]);
    expect(await c.reserve({ eventType: 'e', eventData: { complexity: 2 } })).toEqual(hold);
    expect(calls[0].url).toBe('http://metering:5000/api/organizations/acme/usage/reservations');
    expect(calls[0].headers.authorization).toBe('Bearer nxk_test');
    const body = calls[0].body as { idempotencyKey: string };
    expect(body.idempotencyKey).toMatch(/^cm-[0-9a-f-]{36}$/);
    expect(calls[0].headers['idempotency-key']).toBe(body.idempotencyKey);
    expect(body).not.toHaveProperty('organizationId');
  });

  it('sends runId as the X-Run-Id header, never in the body: track, batch, check, reserve, commit', async () => {
    const run = '5b627bb6-c2df-41d6-8044-58485d01a59e';
    const result = { eventId: 'x' };
    const { c, calls } = client([json(201, result), json(200, { results: [] }), json(200, {}), json(201, hold), json(200, result)]);
    await c.track({ eventType: 'e', runId: run });
    await c.trackBatch([{ eventType: 'e', runId: 'ignored-per-event' }, { eventType: 'e' }], { runId: run });
    await c.check({ eventType: 'e', runId: run });
    await c.reserve({ eventType: 'e', runId: run });
    await c.commit('r1', { runId: run });
    expect(calls.map((x) => x.headers['x-run-id'])).toEqual([run, run, run, run, run]);
    expect(JSON.stringify(calls.map((x) => x.body))).not.toContain('runId');
    const { c: plain, calls: plainCalls } = client([json(201, result)]);
    await plain.track({ eventType: 'e' });
    expect(plainCalls[0].headers).not.toHaveProperty('x-run-id');
  });

  it('retries a network error with backoff, under the same key, and is charged once', async () => {
    const { c, calls, waits } = client([refused(), refused(), json(201, hold)]);
    await c.reserve({ eventType: 'e' });
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((x) => (x.body as { idempotencyKey: string }).idempotencyKey)).size).toBe(1);
    expect(waits).toHaveLength(2);
    expect(waits[1]).toBeGreaterThanOrEqual(100);
  });

  it('gives up after the retries with 503 METERING_UNAVAILABLE', async () => {
    const { c, calls } = client([refused(), refused(), refused()]);
    const error = await c.track({ eventType: 'e' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MeteringUnavailableError);
    expect((error as MeteringError).status).toBe(503);
    expect((error as MeteringError).body).toMatchObject({ statusCode: 503, error: 'METERING_UNAVAILABLE', details: { cause: 'ECONNREFUSED' } });
    expect(calls).toHaveLength(3);
  });

  it.each([
    [402, { statusCode: 402, error: 'CREDITS_EXHAUSTED', message: 'Not enough credits', details: { required: 10 } }],
    [404, { statusCode: 404, error: 'ORGANIZATION_NOT_FOUND', message: 'no' }],
    [409, { statusCode: 409, error: 'IDEMPOTENCY_CONFLICT', message: 'reused' }],
    [503, { statusCode: 503, error: 'OVERLOADED', message: 'busy' }],
  ])('never retries an HTTP answer: %i keeps its status and body', async (status, body) => {
    const { c, calls } = client([json(status, body)]);
    const error = (await c.reserve({ eventType: 'e' }).catch((e: unknown) => e)) as MeteringError;
    expect(error).toBeInstanceOf(MeteringError);
    expect(error).not.toBeInstanceOf(MeteringUnavailableError);
    expect([error.status, error.body]).toEqual([status, body]);
    expect(calls).toHaveLength(1);
  });

  it('gives a non-JSON error page the error shape', async () => {
    const { c } = client([new Response('<html>bad gateway</html>', { status: 502 })]);
    const error = (await c.check({ eventType: 'e' }).catch((e: unknown) => e)) as MeteringError;
    expect(error.body).toEqual({ statusCode: 502, error: 'INTERNAL', message: 'The metering service answered 502' });
  });

  it('takes the organization from the key once, and asks again after a failed look-up', async () => {
    const { c, calls } = client([refused(), json(200, { kind: 'organization', organizationId: 'from-key', scopes: ['track', 'read'] }), json(201, hold), json(201, hold)], { retries: 0 });
    await expect(c.reserve({ eventType: 'e' })).rejects.toBeInstanceOf(MeteringUnavailableError);
    await c.reserve({ eventType: 'e' });
    await c.reserve({ eventType: 'e' });
    // GET /api/key needs only track: a key made for metering alone learns its organization (it asked the
    // read-scoped /api/dashboard/session before, so a track-only key was 403 on every metered route).
    expect(calls.map((x) => x.url.replace('http://metering:5000', ''))).toEqual(['/api/key', '/api/key', '/api/organizations/from-key/usage/reservations', '/api/organizations/from-key/usage/reservations']);
  });

  it.each<[string, Response | Error, { organizationId?: string }, RegExp | null]>([
    ['a track-only key: fine', json(200, { kind: 'organization', organizationId: 'acme', scopes: ['track'] }), {}, null],
    ['a read-only key: cannot meter, says which scope and where to get one', json(403, { statusCode: 403, error: 'FORBIDDEN', message: 'This API key lacks the scope track' }), {}, /cannot meter \(403 FORBIDDEN: This API key lacks the scope track\).*track scope.*for the client package/],
    ['an unknown or revoked key', json(401, { statusCode: 401, error: 'UNAUTHORIZED', message: 'Invalid or revoked API key' }), {}, /refused the API key \(401 UNAUTHORIZED/],
    ['the admin key without an organization', json(200, { kind: 'admin' }), {}, /admin key has no organization/],
    ['the admin key with one configured: fine', json(200, { kind: 'admin' }), { organizationId: 'acme' }, null],
    ['the service down: says so, not that the key is bad', refused(), {}, /could not check the API key, the service is unreachable/],
  ])('checkKey: %s', async (_case, answer, options, problem) => {
    const { c, calls } = client([answer], { retries: 0, ...options });
    const check = await c.checkKey();
    expect(calls.map((x) => `${x.method} ${x.url}`)).toEqual(['GET http://metering:5000/api/key']);
    if (problem === null) expect(check.ok).toBe(true);
    else {
      expect(check.ok).toBe(false);
      expect(check.ok === false && check.problem).toMatch(problem);
      expect(check.ok === false && check.problem.includes('\n')).toBe(false);
    }
  });

  it('keeps a given key and gives every event of a batch one', async () => {
    const { c, calls } = client([json(200, { results: [] })]);
    await c.trackBatch([{ eventType: 'a', idempotencyKey: 'mine' }, { eventType: 'b' }]);
    const events = (calls[0].body as { events: Array<{ idempotencyKey: string }> }).events;
    expect(events[0].idempotencyKey).toBe('mine');
    expect(events[1].idempotencyKey).toMatch(/^cm-/);
  });

  it('commits and releases by reservation id; summary reads the organization', async () => {
    const { c, calls } = client([json(200, { eventId: 'ev' }), json(200, { reservationId: 'r 1', status: 'released', releasedCredits: 10 }), json(200, { used: 1 })]);
    await c.commit('r 1', { idempotencyKey: 'k1' });
    await c.release('r 1', { organizationId: 'other' });
    await c.summary();
    expect(calls.map((x) => `${x.method} ${x.url.replace('http://metering:5000', '')}`)).toEqual([
      'POST /api/organizations/acme/usage/reservations/r%201/commit',
      'POST /api/organizations/other/usage/reservations/r%201/release',
      'GET /api/organizations/acme/usage',
    ]);
    expect(calls[0].headers['idempotency-key']).toBe('k1');
  });

  it('sends the run as X-Run-Id on track, reserve, commit and release, never in the body; no header without a run', async () => {
    const { c, calls } = client([json(200, { eventId: 'ev' }), json(201, hold), json(200, { eventId: 'ev' }), json(200, { reservationId: 'r1', status: 'released', releasedCredits: 10 }), json(201, hold)]);
    await c.track({ eventType: 'e', runId: 'run-1' });
    await c.reserve({ eventType: 'e', runId: 'run-1', idempotencyKey: 'k1' });
    await c.commit('r1', { runId: 'run-1', idempotencyKey: 'k1' });
    await c.release('r1', { runId: 'run-1' });
    await c.reserve({ eventType: 'e' });
    expect(calls.slice(0, 4).map((x) => x.headers['x-run-id'])).toEqual(['run-1', 'run-1', 'run-1', 'run-1']);
    expect(calls[1].headers['idempotency-key']).toBe('k1');
    expect(calls[2].headers['idempotency-key']).toBe('k1');
    for (const call of calls) expect(call.body ?? {}).not.toHaveProperty('runId');
    expect(calls[4].headers).not.toHaveProperty('x-run-id');
  });
});
