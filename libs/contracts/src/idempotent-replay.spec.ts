import { describe, expect, it } from '@jest/globals';
import { firstAnswer, replayDecision, storedAnswer, withUsage } from './idempotent-replay';
import type { ReservationResult, UsageEnvelope } from './tracking.types';

const usage: UsageEnvelope = { eventId: 'ev1', eventType: 'e', creditsConsumed: 10, remainingCredits: 90, overageCredits: 0, warnings: [], mode: 'sync' };
const now = new Date('2026-11-15T12:00:00.000Z');
const hold = (over: Partial<ReservationResult> = {}): ReservationResult => ({
  reservationId: 'r1',
  eventType: 'e',
  credits: 10,
  expiresAt: '2026-11-15T12:10:00.000Z',
  remainingCredits: 90,
  status: 'pending',
  duplicate: false,
  ...over,
});

describe('replayDecision: the one protocol of both @TrackUsage interceptors', () => {
  it.each<[string, ReservationResult, boolean, { kind: string; code?: string; retryAfterSeconds?: number }]>([
    ['a fresh hold runs', hold(), false, { kind: 'run' }],
    ['a pending duplicate is in progress until the hold expires', hold({ duplicate: true }), false, { kind: 'refuse', code: 'IDEMPOTENCY_IN_PROGRESS', retryAfterSeconds: 600 }],
    ['an expiry already past still says retry in 1 s', hold({ duplicate: true, expiresAt: '2026-11-15T11:00:00.000Z' }), false, { kind: 'refuse', code: 'IDEMPOTENCY_IN_PROGRESS', retryAfterSeconds: 1 }],
    ["the client's own retried reserve (its generated key) runs", hold({ duplicate: true }), true, { kind: 'run' }],
    ['a completed request with its answer kept is replayed', hold({ duplicate: true, status: 'committed', answer: { status: 200, body: { a: 1 }, usage } }), false, { kind: 'replay' }],
    ['an answer too large to keep is 409 REPLAYED', hold({ duplicate: true, status: 'committed', answer: { status: 200, unstorable: 'too_large', usage } }), false, { kind: 'refuse', code: 'IDEMPOTENCY_REPLAYED' }],
    ['a hold committed without an answer (older row, plain API) is 409 REPLAYED', hold({ duplicate: true, status: 'committed', answer: null }), false, { kind: 'refuse', code: 'IDEMPOTENCY_REPLAYED' }],
    ['a committed duplicate is never run, even under an own key', hold({ duplicate: true, status: 'committed', answer: null }), true, { kind: 'refuse', code: 'IDEMPOTENCY_REPLAYED' }],
  ])('%s', (_name, h, own, expected) => {
    const d = replayDecision(h, 'k1', now, own);
    expect({ kind: d.kind, ...(d.kind === 'refuse' ? { code: d.error.error, ...(d.retryAfterSeconds !== undefined ? { retryAfterSeconds: d.retryAfterSeconds } : {}) } : {}) }).toEqual(expected);
  });

  it('the replay is the first body with its usage; REPLAYED carries the original charge', () => {
    const replay = replayDecision(hold({ duplicate: true, status: 'committed', answer: { status: 201, body: { a: 1 }, usage } }), 'k1', now);
    expect(replay).toMatchObject({ kind: 'replay', body: { a: 1, usage }, answer: { status: 201 } });
    const refused = replayDecision(hold({ duplicate: true, status: 'committed', answer: { status: 200, unstorable: 'not_json', usage } }), 'k1', now);
    expect(refused).toMatchObject({ error: { statusCode: 409, details: { idempotencyKey: 'k1', eventId: 'ev1', creditsConsumed: 10, reason: 'not_json' } } });
  });
});

describe('storedAnswer and firstAnswer: what is kept, within the bound', () => {
  it('keeps a JSON answer up to the bound, exactly; one byte more is too_large', () => {
    const body = { text: '' };
    const size = (b: unknown) => new TextEncoder().encode(JSON.stringify({ status: 200, body: b, usage })).length;
    body.text = 'x'.repeat(1000 - size({ text: '' }));
    expect(size(body)).toBe(1000);
    expect(storedAnswer({ status: 200, body }, usage, 1000)).toEqual({ status: 200, body, usage });
    expect(storedAnswer({ status: 200, body: { text: `${body.text}y` } }, usage, 1000)).toEqual({ status: 200, usage, unstorable: 'too_large' });
  });

  it('never keeps a stream, a buffer, an empty answer or a cycle', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const body of [Buffer.from('x'), new Map(), undefined, cycle, Number.NaN]) expect(storedAnswer({ status: 200, body }, usage, 65_536)).toMatchObject({ unstorable: 'not_json' });
    expect(storedAnswer({ unstorable: 'not_given' }, usage, 65_536)).toEqual({ usage, unstorable: 'not_given' });
  });

  it('firstAnswer sends the body only when it fits', () => {
    expect(firstAnswer(200, { a: 1 }, 100)).toEqual({ status: 200, body: { a: 1 } });
    expect(firstAnswer(200, { a: 'x'.repeat(100) }, 100)).toEqual({ status: 200, unstorable: 'too_large' });
    expect(firstAnswer(200, Buffer.from('x'), 100)).toEqual({ status: 200, unstorable: 'not_json' });
    expect(withUsage([1], usage)).toEqual([1]);
  });
});
