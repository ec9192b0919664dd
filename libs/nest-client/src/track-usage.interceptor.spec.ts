import { beforeAll, describe, expect, it } from '@jest/globals';
import { HttpException, Logger } from '@nestjs/common';
import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { lastValueFrom, of, throwError } from 'rxjs';
import type { ErrorCode } from '../../contracts/src/error-codes';
import type { ReservationResult } from '../../contracts/src/tracking.types';
import { MeteringError, MeteringUnavailableError } from './metering-error';
import { TRACK_USAGE_METADATA } from './track-usage.constants';
import type { TrackUsageMetadata } from './track-usage.decorator';
import { TrackUsageInterceptor } from './track-usage.interceptor';
import type { UsageClient } from './usage-client';
import type { UsageClientModuleOptions } from './usage-client.options';
import type { UsageDeliveryService } from './usage-delivery.service';

const fail = (status: number, error: ErrorCode, details?: Record<string, unknown>) => new MeteringError(status, { statusCode: status, error, message: error, details });
const hold = (over: Partial<ReservationResult> = {}): ReservationResult => ({ reservationId: 'r1', eventType: 'e', credits: 25, expiresAt: '', remainingCredits: 75, status: 'pending', duplicate: false, ...over });
const charged = { eventId: 'ev1', eventType: 'e', creditsConsumed: 25, remainingCredits: 75, overageCredits: 0, warnings: [] };

/** The interceptor around one request, with a scripted service; says what it called and journaled. */
function setup(script: { reserve: ReservationResult | Error; commit?: object | Error; release?: object | Error }, options: Partial<UsageClientModuleOptions> = {}, meta: Partial<TrackUsageMetadata> = {}, requestHeaders: Record<string, string> = { 'idempotency-key': 'req-1' }) {
  const calls: string[] = [];
  const deferred: Array<Record<string, unknown>> = [];
  const headers: Record<string, string> = {};
  const client = {
    reserve: async (e: { idempotencyKey: string }) => {
      calls.push(`reserve ${e.idempotencyKey}`);
      if (script.reserve instanceof Error) throw script.reserve;
      return script.reserve;
    },
    commit: async (id: string) => {
      calls.push(`commit ${id}`);
      if (script.commit instanceof Error) throw script.commit;
      return script.commit ?? charged;
    },
    release: async (id: string) => {
      calls.push(`release ${id}`);
      if (script.release instanceof Error) throw script.release;
      return script.release ?? {};
    },
  } as unknown as UsageClient;
  const delivery = { defer: (entry: Record<string, unknown>) => void deferred.push(entry) } as unknown as UsageDeliveryService;
  const adapterHost = { httpAdapter: { setHeader: (_res: unknown, name: string, value: string) => (headers[name] = value) } } as unknown as HttpAdapterHost;
  const reflector = new Reflector();
  const interceptor = new TrackUsageInterceptor(reflector, adapterHost, client, delivery, { baseUrl: '', apiKey: '', organizationId: 'acme', ...options });
  const handler = () => undefined;
  Reflect.defineMetadata(TRACK_USAGE_METADATA, { eventType: 'e', ...meta }, handler);
  const request = { headers: requestHeaders, body: { complexity: 2 } };
  const context = { getHandler: () => handler, getClass: () => class {}, switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({}) }) } as unknown as ExecutionContext;
  let ran = 0;
  const run = async (outcome: 'ok' | 'throws' = 'ok') => {
    const next: CallHandler = { handle: () => (ran++, outcome === 'ok' ? of({ answer: 42 }) : throwError(() => new Error('handler failed'))) };
    return lastValueFrom(await interceptor.intercept(context, next));
  };
  return { run, calls, deferred, headers, ran: () => ran };
}

describe('TrackUsageInterceptor', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('reserves under the request key, runs, commits, and answers with usage and headers', async () => {
    const t = setup({ reserve: hold() });
    expect(await t.run()).toEqual({ answer: 42, usage: { ...charged, mode: 'sync' } });
    expect(t.calls).toEqual(['reserve req-1', 'commit r1']);
    expect(t.headers).toEqual({ 'X-Credits-Consumed': '25', 'X-Credits-Remaining': '75' });
  });

  it("a refusal (402) is the host's answer with the service's status and body; the handler never runs", async () => {
    const t = setup({ reserve: fail(402, 'CREDITS_EXHAUSTED', { required: 25 }) });
    const error = (await t.run().catch((e: unknown) => e)) as HttpException;
    expect(error).toBeInstanceOf(HttpException);
    expect([error.getStatus(), error.getResponse()]).toEqual([402, { statusCode: 402, error: 'CREDITS_EXHAUSTED', message: 'CREDITS_EXHAUSTED', details: { required: 25 } }]);
    expect(t.ran()).toBe(0);
  });

  it('a handler that throws releases the hold and keeps its own error', async () => {
    const t = setup({ reserve: hold() });
    await expect(t.run('throws')).rejects.toThrow('handler failed');
    expect(t.calls).toEqual(['reserve req-1', 'release r1']);
  });

  it('closed (default): unreachable is 503 METERING_UNAVAILABLE before the handler', async () => {
    const t = setup({ reserve: new MeteringUnavailableError('ECONNREFUSED') });
    const error = (await t.run().catch((e: unknown) => e)) as HttpException;
    expect(error.getStatus()).toBe(503);
    expect(error.getResponse()).toMatchObject({ error: 'METERING_UNAVAILABLE' });
    expect(t.ran()).toBe(0);
  });

  it('open: unreachable runs the handler and journals the event under the request key', async () => {
    const t = setup({ reserve: new MeteringUnavailableError('ECONNREFUSED') }, { failMode: 'open' });
    expect(await t.run()).toMatchObject({ answer: 42, usage: { mode: 'deferred', creditsConsumed: null } });
    expect(t.deferred).toEqual([expect.objectContaining({ kind: 'reserve', organizationId: 'acme', input: expect.objectContaining({ idempotencyKey: 'req-1' }) })]);
    expect(t.headers).toEqual({});
  });

  it('open: a 402 is still a 402 (only unreachable is failed open)', async () => {
    const t = setup({ reserve: fail(402, 'CREDITS_EXHAUSTED') }, { failMode: 'open' });
    await expect(t.run()).rejects.toBeInstanceOf(HttpException);
    expect(t.ran()).toBe(0);
  });

  it.each([
    ['unreachable', new MeteringUnavailableError('ECONNRESET')],
    ['the hold expired while the handler ran', fail(409, 'RESERVATION_SETTLED', { status: 'expired' })],
  ])('a commit that fails after the work ran (%s) is journaled with its hold, in either mode', async (_name, error) => {
    const t = setup({ reserve: hold(), commit: error });
    expect(await t.run()).toMatchObject({ answer: 42, usage: { mode: 'deferred' } });
    expect(t.deferred).toEqual([expect.objectContaining({ kind: 'reserve', reservationId: 'r1' })]);
    expect(t.calls).not.toContain('release r1');
  });

  it('a replay of a completed request answers the kept answer (body, usage, headers) without running the handler or committing', async () => {
    const usage = { ...charged, mode: 'sync' as const };
    const t = setup({ reserve: hold({ duplicate: true, status: 'committed', answer: { status: 200, body: { answer: 41 }, usage } }) });
    expect(await t.run()).toEqual({ answer: 41, usage });
    expect(t.ran()).toBe(0);
    expect(t.calls).toEqual(['reserve req-1']);
    expect(t.headers).toEqual({ 'Idempotent-Replayed': 'true', 'X-Credits-Consumed': '25', 'X-Credits-Remaining': '75' });
  });

  it('a replay whose answer was not kept is 409 IDEMPOTENCY_REPLAYED with the original charge; the handler never runs', async () => {
    const t = setup({ reserve: hold({ duplicate: true, status: 'committed', answer: { status: 200, unstorable: 'too_large', usage: { ...charged, mode: 'sync' } } }) });
    const error = (await t.run().catch((e: unknown) => e)) as HttpException;
    expect([error.getStatus(), error.getResponse()]).toEqual([409, expect.objectContaining({ error: 'IDEMPOTENCY_REPLAYED', details: expect.objectContaining({ eventId: 'ev1', creditsConsumed: 25, reason: 'too_large' }) })]);
    expect(t.ran()).toBe(0);
  });

  it('a duplicate of a request still running (its hold pending) is 409 IDEMPOTENCY_IN_PROGRESS with Retry-After; the handler never runs', async () => {
    const expiresAt = new Date(Date.now() + 30_000).toISOString();
    const t = setup({ reserve: hold({ duplicate: true, expiresAt }) });
    const error = (await t.run().catch((e: unknown) => e)) as HttpException;
    expect([error.getStatus(), error.getResponse()]).toEqual([409, expect.objectContaining({ error: 'IDEMPOTENCY_IN_PROGRESS' })]);
    expect(Number(t.headers['Retry-After'])).toBeGreaterThanOrEqual(29);
    expect(t.ran()).toBe(0);
    expect(t.calls).toEqual(['reserve req-1']);
  });

  it('a commit already made (its answer lost, the client retried it) reports the charge it made, not 0', async () => {
    const t = setup({ reserve: hold(), commit: fail(409, 'RESERVATION_SETTLED', { status: 'committed', eventId: 'ev1', creditsConsumed: 25, overageCredits: 0 }) });
    expect(await t.run()).toMatchObject({ answer: 42, usage: { eventId: 'ev1', creditsConsumed: 25 } });
    expect(t.headers['X-Credits-Consumed']).toBe('25');
  });

  it("a pending duplicate under the interceptor's own key (its reserve retried after a lost answer) is this request's: released when the handler throws", async () => {
    const t = setup({ reserve: hold({ duplicate: true }) }, {}, {}, {});
    await expect(t.run('throws')).rejects.toThrow('handler failed');
    expect(t.calls).toEqual([expect.stringMatching(/^reserve cm-/), 'release r1']);
    const theirs = setup({ reserve: hold({ duplicate: true }) });
    await expect(theirs.run('throws')).rejects.toMatchObject({ status: 409 });
    expect(theirs.ran()).toBe(0);
    expect(theirs.calls).toEqual(['reserve req-1']);
  });

  it('async: no reserve; after the handler the event is journaled for tracking', async () => {
    const t = setup({ reserve: hold() }, {}, { mode: 'async' });
    expect(await t.run()).toMatchObject({ usage: { mode: 'async' } });
    expect(t.calls).toEqual([]);
    expect(t.deferred).toEqual([expect.objectContaining({ kind: 'track' })]);
  });
});
