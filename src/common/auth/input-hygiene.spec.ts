import { describe, expect, it } from '@jest/globals';
import { MAX_JSON_DEPTH, unacceptableInput } from './input-hygiene';

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
