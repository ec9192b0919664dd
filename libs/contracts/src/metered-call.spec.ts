import { describe, expect, it } from '@jest/globals';
import { meteredCall } from './metered-call';
import type { MeteredCallPort } from './metered-call';
import type { ReservationResult } from './tracking.types';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const usage = { eventId: 'e1', eventType: 'x', creditsConsumed: 2, remainingCredits: 8, overageCredits: 0, warnings: [], mode: 'sync' as const };

function hold(over: Partial<ReservationResult> = {}): ReservationResult {
  return { reservationId: 'r1', eventType: 'x', credits: 2, expiresAt: '2026-03-01T12:05:00.000Z', remainingCredits: 8, status: 'pending', duplicate: false, ...over };
}

/** A port that records what the protocol asked of it. */
function port(over: Partial<MeteredCallPort> = {}) {
  const calls: string[] = [];
  const p: MeteredCallPort = {
    idempotencyKey: 'k1',
    now: () => NOW,
    replay: (d) => {
      calls.push('replay');
      return d.body;
    },
    refuse: (d) => {
      calls.push(`refuse:${d.error.error}`);
      throw new Error(d.error.error);
    },
    commit: async (body) => {
      calls.push('commit');
      return { body, usage };
    },
    release: async () => {
      calls.push('release');
    },
    chargeFailed: (error) => new Error(`charge: ${(error as Error).message}`),
    ...over,
  };
  return { p, calls };
}

describe('meteredCall (the non-streamed reserve/settle protocol of both @TrackUsage)', () => {
  it('a fresh hold runs the handler; its success commits, nothing is released', async () => {
    const { p, calls } = port();
    const call = meteredCall(hold(), p);
    expect(call.kind).toBe('run');
    if (call.kind !== 'run') return;
    await expect(call.settle({ ok: true })).resolves.toEqual({ body: { ok: true }, usage });
    expect(calls).toEqual(['commit']);
  });

  it("the handler's failure releases the hold and passes the handler's own error through", async () => {
    const { p, calls } = port();
    const call = meteredCall(hold(), p);
    if (call.kind !== 'run') throw new Error('expected run');
    const own = new Error('handler broke');
    await expect(call.fail(own)).rejects.toBe(own);
    expect(calls).toEqual(['release']);
  });

  it('a failed charge after a successful handler is never a release: it leaves as the port says', async () => {
    const { p, calls } = port({ commit: async () => Promise.reject(new Error('402')) });
    const call = meteredCall(hold(), p);
    if (call.kind !== 'run') throw new Error('expected run');
    // The platform's pipe hands the settle's rejection to fail (catchError), as rxjs does.
    const failed = await call.settle({}).catch((e: unknown) => e);
    await expect(call.fail(failed)).rejects.toThrow('charge: 402');
    expect(calls).toEqual([]);
  });

  it('a replay of a committed key answers the kept answer and never runs the handler', () => {
    const { p, calls } = port();
    const call = meteredCall(hold({ duplicate: true, status: 'committed', answer: { usage, body: { ok: 1 }, status: 201 } }), p);
    expect(call).toEqual({ kind: 'replay', answer: { ok: 1, usage } });
    expect(calls).toEqual(['replay']);
  });

  it('a duplicate pending hold is refused (in progress), unless it is the interceptor’s own retried reserve', () => {
    const pending = hold({ duplicate: true, status: 'pending' });
    const { p, calls } = port();
    expect(() => meteredCall(pending, p)).toThrow('IDEMPOTENCY_IN_PROGRESS');
    expect(calls).toEqual(['refuse:IDEMPOTENCY_IN_PROGRESS']);
    const own = port({ ownRetry: true });
    expect(meteredCall(pending, own.p).kind).toBe('run');
    expect(own.calls).toEqual([]);
  });
});
