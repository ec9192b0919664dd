import { describe, expect, it } from '@jest/globals';
import type { CallHandler, ExecutionContext } from '@nestjs/common';
import type { HttpAdapterHost, Reflector } from '@nestjs/core';
import { lastValueFrom, of } from 'rxjs';
import { FakeClock } from '../../common/clock/clock';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import type { ReservationsService } from '../usage/reservations.service';
import type { UsageTracker } from '../usage/usage-tracker.service';
import type { TrackInput } from '../usage/usage.types';
import type { AsyncUsageBuffer } from './async-usage-buffer.service';
import { TrackUsageInterceptor } from './track-usage.interceptor';
import type { TrackUsageMetadata } from './track-usage.types';

/**
 * The `units` and `estimate` options of @TrackUsage, with the ledger faked: what is held, what
 * is committed, and that quantities a handler reports wrongly release the hold. The real ledger path is
 * in test/priced-units.e2e-spec.ts.
 */
function setup(meta: TrackUsageMetadata, options: { commitError?: DomainError } = {}) {
  const calls = { reserve: [] as TrackInput[], commit: [] as Array<Record<string, unknown> | undefined>, release: 0, prepared: [] as TrackInput[] };
  const reservations = {
    reserve: async (input: TrackInput) => {
      calls.reserve.push(input);
      return { reservationId: 'r-1', eventType: meta.eventType, credits: 1, expiresAt: '', remainingCredits: 99, status: 'pending', duplicate: false };
    },
    commit: async (_org: string, _id: string, eventData?: Record<string, unknown>) => {
      calls.commit.push(eventData);
      if (options.commitError) throw options.commitError;
      return { eventId: 'e-1', eventType: meta.eventType, creditsConsumed: 2.5, remainingCredits: 97.5, overageCredits: 0, warnings: [] };
    },
    release: async () => {
      calls.release++;
      return { reservationId: 'r-1', status: 'released', releasedCredits: 1 };
    },
  } as unknown as ReservationsService;
  const buffer = {
    prepare: async (input: TrackInput) => {
      calls.prepared.push(input);
      return { input, credits: 250 };
    },
    enqueue: async (q: { input: TrackInput; credits: number }) => ({ eventId: null, eventType: q.input.eventType, creditsConsumed: 2.5, remainingCredits: null, overageCredits: 0, warnings: [], mode: 'async' }),
  } as unknown as AsyncUsageBuffer;
  const reflector = { get: () => meta } as unknown as Reflector;
  const adapterHost = { httpAdapter: { setHeader: () => undefined } } as unknown as HttpAdapterHost;
  const interceptor = new TrackUsageInterceptor(reflector, reservations, buffer, {} as UsageTracker, adapterHost, new FakeClock());
  const request = { params: {}, headers: { 'x-organization-id': 'org-1' }, body: { prompt: 'hello', units: { inputTokens: 1 } }, routeOptions: { url: '/api/llm/complete' }, url: '/api/llm/complete', ip: '127.0.0.1' };
  const reply = { header: () => reply };
  const context = { getHandler: () => undefined, switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }) } as unknown as ExecutionContext;
  const run = async (result: unknown) => lastValueFrom(await interceptor.intercept(context, { handle: () => of(result) } as CallHandler));
  return { calls, run };
}

const tokens = (result: unknown) => (result as { tokens: Record<string, number> }).tokens;

describe('@TrackUsage units and estimate', () => {
  it('holds the estimate and commits the quantities of the result', async () => {
    const { calls, run } = setup({ eventType: 'llm_completion', units: tokens, estimate: { inputTokens: 2, outputTokens: 300 } });
    const body = await run({ text: 'hi', tokens: { inputTokens: 2, outputTokens: 17 } });
    expect(calls.reserve[0].eventData).toEqual({ prompt: 'hello', units: { inputTokens: 2, outputTokens: 300 } });
    expect(calls.commit).toEqual([{ prompt: 'hello', units: { inputTokens: 2, outputTokens: 17 } }]);
    expect(body).toMatchObject({ text: 'hi', usage: { creditsConsumed: 2.5, mode: 'sync' } });
  });

  it('an estimate may be a function of the request', async () => {
    const { calls, run } = setup({ eventType: 'llm_completion', units: tokens, estimate: (req) => ({ inputTokens: String((req.body as { prompt: string }).prompt).length }) });
    await run({ tokens: { inputTokens: 5 } });
    expect(calls.reserve[0].eventData?.units).toEqual({ inputTokens: 5 });
  });

  it("without an estimate the hold names no units (the definition's maxUnits are held), whatever the body says", async () => {
    const { calls, run } = setup({ eventType: 'llm_completion', units: tokens });
    await run({ tokens: { outputTokens: 3 } });
    expect(calls.reserve[0].eventData).toEqual({ prompt: 'hello' });
    expect(calls.commit[0]).toEqual({ prompt: 'hello', units: { outputTokens: 3 } });
  });

  it('without the units option the commit re-prices nothing (the held eventData is charged)', async () => {
    const { calls, run } = setup({ eventType: 'structuring_diagnose' });
    await run({ ok: true });
    expect(calls.commit).toEqual([undefined]);
  });

  it('quantities that do not price (a 400 from the commit) release the hold and answer the 400', async () => {
    const { calls, run } = setup({ eventType: 'llm_completion', units: tokens }, { commitError: validationFailed({ 'eventData.units.outputTokens': ['must be a whole number >= 0'] }) });
    // A DomainError leaves the interceptor as an HttpException with its status (a host has no filter of ours).
    await expect(run({ tokens: { outputTokens: -1 } })).rejects.toMatchObject({ status: 400, domain: { code: 'VALIDATION_FAILED' } });
    expect(calls.release).toBe(1);
  });

  it.each<[string, (result: unknown) => Record<string, number>]>([
    ['throws', () => { throw new Error('no usage in the result'); }],
    ['returns a non-object', () => 42 as unknown as Record<string, number>],
  ])('a units mapper that %s is a 400 and releases the hold, nothing committed', async (_name, units) => {
    const { calls, run } = setup({ eventType: 'llm_completion', units });
    await expect(run({})).rejects.toMatchObject({ status: 400, domain: { code: 'VALIDATION_FAILED', details: { fields: { 'eventData.units': [expect.any(String)] } } } });
    expect(calls.commit).toEqual([]);
    expect(calls.release).toBe(1);
  });

  it('asynchronous mode prices the result quantities before the event is accepted', async () => {
    const { calls, run } = setup({ eventType: 'llm_completion', mode: 'async', units: tokens, estimate: { inputTokens: 1 } });
    const body = await run({ tokens: { inputTokens: 4, outputTokens: 9 } });
    expect(calls.prepared.map((p) => p.eventData?.units)).toEqual([{ inputTokens: 1 }, { inputTokens: 4, outputTokens: 9 }]);
    expect(body).toMatchObject({ usage: { mode: 'async' } });
  });
});
