import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DomainError } from '../../../common/errors/domain-error';
import { firstAnswerOf, parseTrackEvent, parseTrackEventSlow, requestHash } from './track-input';

/** What a parse answers, comparable: the DTO's own fields, or the error's code and details. */
function outcome(parse: () => unknown): unknown {
  try {
    return { ok: { ...(parse() as object) } };
  } catch (error) {
    if (error instanceof DomainError) return { error: error.code, details: error.details };
    throw error;
  }
}

const asciiUnit = fc.constantFrom('a', 'Z', '0', '_', '-', ' ', '.', '~', '!');
const ascii = fc.string({ unit: asciiUnit, maxLength: 70 });
// Strings around each @Length bound (64, 128, 255), where a fast check would go wrong first.
const nearBounds = fc.oneof(...[64, 128, 255].map((n) => fc.string({ unit: asciiUnit, minLength: n - 2, maxLength: n + 2 })));
const text = fc.oneof(ascii, nearBounds, fc.string({ maxLength: 70 }), fc.string({ unit: 'grapheme', maxLength: 70 }), fc.constantFrom('', '\uFE0F', '😀', 'x\uFE0E', 'a'.repeat(64), 'a'.repeat(65), 'k'.repeat(255), 'k'.repeat(256)));
const anyJson = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), text, fc.array(fc.integer(), { maxLength: 2 }), fc.dictionary(ascii, fc.integer(), { maxKeys: 2 }));
const isoDate = fc.oneof(
  fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2026-11-15T12:00:00Z', '2026-11-15 12:00:00Z', '2026-11-15', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', 'yesterday', '2026-11-15T12:00:00+01:00'),
);
const field = <T>(arb: fc.Arbitrary<T>) => fc.option(fc.oneof(arb, anyJson), { nil: undefined, freq: 3 });

const body = fc
  .record(
    {
      eventType: fc.oneof(ascii, nearBounds, anyJson),
      eventData: field(fc.dictionary(ascii, anyJson, { maxKeys: 3 })),
      userId: field(text),
      occurredAt: field(isoDate),
      idempotencyKey: field(text),
      extra: fc.option(anyJson, { nil: undefined, freq: 8 }),
    },
    { requiredKeys: [] },
  )
  .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));

describe('parseTrackEvent: the fast check against class-validator', () => {
  it('answers exactly what the class-validator path answers, DTO or error, over random bodies', () => {
    fc.assert(
      fc.property(body, fc.constantFrom('', 'events[3]'), (plain, prefix) => {
        expect(outcome(() => parseTrackEvent(plain, prefix))).toEqual(outcome(() => parseTrackEventSlow(plain, prefix)));
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps the class-validator messages for the common mistakes', () => {
    const fields = (plain: Record<string, unknown>) => (outcome(() => parseTrackEvent(plain)) as { details: { fields: Record<string, string[]> } }).details.fields;
    expect(fields({})).toEqual({ eventType: ['eventType must be longer than or equal to 1 characters', 'eventType must be a string'] });
    expect(fields({ eventType: 'a'.repeat(65) }).eventType).toEqual(['eventType must be shorter than or equal to 64 characters']);
    expect(fields({ eventType: 'x', color: 'red' })).toEqual({ color: ['property color should not exist'] });
    expect(Object.keys(fields({ eventType: 'x', userId: '' }))).toEqual(['userId']);
    expect(Object.keys(fields({ eventType: 'x', idempotencyKey: 'has space' }))).toEqual(['idempotencyKey']);
  });

  it('accepts a valid body and keeps only its own fields', () => {
    const dto = parseTrackEvent({ eventType: 'visuals_planning', eventData: { complexity: 1.5 }, userId: 'u-1', idempotencyKey: 'k-1', occurredAt: '2026-11-15T12:00:00.000Z' });
    expect({ ...dto }).toEqual({ eventType: 'visuals_planning', eventData: { complexity: 1.5 }, userId: 'u-1', idempotencyKey: 'k-1', occurredAt: '2026-11-15T12:00:00.000Z' });
    expect(Object.keys(parseTrackEvent({ eventType: 'export_pdf' }))).toEqual(['eventType']);
  });

  it('still refuses an oversized eventData with 413 on the fast path', () => {
    expect(outcome(() => parseTrackEvent({ eventType: 'x', eventData: { inputText: 'y'.repeat(17 * 1024) } }))).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
  });
});

describe('firstAnswerOf: the answer a commit hands over for a replay', () => {
  it.each<[string, Record<string, unknown> | undefined, unknown]>([
    ['none given', undefined, undefined],
    ['a status and a body', { status: 200, body: { a: 1 } }, { status: 200, body: { a: 1 } }],
    ['a null body is a body', { status: 201, body: null }, { status: 201, body: null }],
    ['an answer not sent, with its reason', { status: 200, unstorable: 'too_large' }, { status: 200, unstorable: 'too_large' }],
  ])('%s', (_name, raw, expected) => expect(firstAnswerOf(raw)).toEqual(expected));

  it.each<[string, Record<string, unknown>, string]>([
    ['no status', { body: {} }, 'response.status'],
    ['a status below 100', { status: 99, body: {} }, 'response.status'],
    ['a status above 599', { status: 600, body: {} }, 'response.status'],
    ['a fractional status', { status: 200.5, body: {} }, 'response.status'],
    ['neither body nor reason', { status: 200 }, 'response.body'],
    ['an unknown reason', { status: 200, unstorable: 'huge' }, 'response.unstorable'],
    ['an unknown field', { status: 200, body: {}, headers: {} }, 'response.headers'],
    // JSON can say null, a list or a scalar where the object goes (the fuzz found null answering 500).
    ['null', null as unknown as Record<string, unknown>, 'response'],
    ['a list', [] as unknown as Record<string, unknown>, 'response'],
    ['a string', 'ok' as unknown as Record<string, unknown>, 'response'],
  ])('400 for %s', (_name, raw, field) => {
    let error: unknown;
    try {
      firstAnswerOf(raw);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).details).toHaveProperty(['fields', field]);
  });
});

describe('requestHash: what an idempotency key is bound to', () => {
  it("ignores the server's arrival stamp (acceptedAt) but not the client's occurredAt", () => {
    const input = { eventType: 'e', eventData: { a: 1 } };
    expect(requestHash({ ...input, acceptedAt: '2026-11-15T12:00:00.001Z' } as typeof input)).toBe(requestHash({ ...input, acceptedAt: '2026-11-15T12:00:09.000Z' } as typeof input));
    expect(requestHash({ ...input, occurredAt: '2026-11-15T12:00:00.001Z' })).not.toBe(requestHash({ ...input, occurredAt: '2026-11-15T12:00:09.000Z' }));
  });
});
