import { describe, expect, it } from '@jest/globals';
import type { FastifyRequest } from 'fastify';
import { MAX_JSON_DEPTH, rejectUnacceptableInput, unacceptableInput } from './input-hygiene';

describe('unacceptableInput', () => {
  it('accepts ordinary JSON, unicode and emoji included', () => {
    expect(unacceptableInput({ name: 'Zoë 🧨 日本', list: [1, 'a', null, { ok: true }], n: 1.5 }, 'body')).toBeUndefined();
    expect(unacceptableInput(undefined, 'body')).toBeUndefined();
    expect(unacceptableInput('plain', 'params')).toBeUndefined();
  });

  it('refuses NUL and unpaired surrogates, in values and keys, with the path', () => {
    expect(unacceptableInput({ a: { b: 'x\u0000y' } }, 'body')).toEqual({ path: 'body.a.b', problem: expect.stringMatching(/NUL/) });
    expect(unacceptableInput({ list: ['ok', '\ud800'] }, 'body')).toEqual({ path: 'body.list[1]', problem: expect.stringMatching(/surrogate/) });
    expect(unacceptableInput({ 'k\u0000': 1 }, 'body')?.problem).toMatch(/key/);
    expect(unacceptableInput({ orgId: '\udc00' }, 'params')?.path).toBe('params.orgId');
  });

  it('refuses keys that name Object.prototype members', () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
      const value = JSON.parse(`{"a":{"${key}":1}}`);
      expect(unacceptableInput(value, 'body')).toEqual({ path: 'body.a', problem: `has the reserved key "${key}"` });
    }
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH} levels, without recursing itself`, () => {
    const nest = (depth: number) => {
      let v: unknown = 1;
      for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
      return v;
    };
    expect(unacceptableInput(nest(MAX_JSON_DEPTH), 'body')).toBeUndefined();
    expect(unacceptableInput(nest(MAX_JSON_DEPTH + 1), 'body')?.problem).toMatch(/deeper/);
    expect(unacceptableInput(nest(1_000_000), 'body')?.problem).toMatch(/deeper/);
  });
});

describe('rejectUnacceptableInput (the preValidation hook)', () => {
  const outcome = (request: Partial<FastifyRequest>) => {
    let result: unknown = 'not called';
    rejectUnacceptableInput(request as FastifyRequest, undefined, (error) => (result = error));
    return result as { details?: unknown; message?: string } | undefined;
  };

  it('passes acceptable input on at once', () => {
    expect(outcome({ params: { orgId: 'acme' }, query: {}, body: { eventType: 'x', eventData: { n: 1, list: ['a', { b: null }] } } })).toBeUndefined();
    expect(outcome({ params: {}, query: {}, body: undefined })).toBeUndefined();
  });

  it('refuses what unacceptableInput refuses, with its path, params first, then query, then body', () => {
    const deep = JSON.parse(`${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`);
    for (const [request, part, path] of [
      [{ params: { orgId: '\u0000' }, body: { k: '\ud800' } }, 'params', 'params.orgId'],
      [{ params: {}, query: { q: ['ok', 'x\u0000'] } }, 'query', 'query.q[1]'],
      [{ params: {}, query: {}, body: { list: [1, { toString: 1 }] } }, 'body', 'body.list[1]'],
      [{ params: {}, query: {}, body: deep }, 'body', undefined],
    ] as const) {
      const error = outcome(request as Partial<FastifyRequest>);
      expect(error?.message).toMatch(new RegExp(`^Request ${part} `));
      const expected = unacceptableInput((request as Record<string, unknown>)[part], part)!;
      if (path) expect(expected.path).toBe(path);
      expect(error?.details).toEqual({ fields: { [expected.path]: [`${expected.path} ${expected.problem}`] } });
    }
  });
});
