import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { pgArray } from './pg-array';

// node-postgres's own array literal (pg/lib/utils prepareValue): what pgArray replaces, element for element.
// (Not a typed module: loaded by a name the compiler does not resolve.)
const PG_UTILS = 'pg/lib/utils.js';
const nodePostgres = async () => ((await import(PG_UTILS)) as { default: { prepareValue: (v: unknown) => string } }).default;

describe('pgArray', () => {
  it.each<[string, Array<string | number | null | undefined>, string]>([
    ['empty', [], '{}'],
    ['strings, numbers and NULL', ['a', 2, null, undefined, '1.500000'], '{"a","2",NULL,NULL,"1.500000"}'],
    ['quotes and backslashes escaped', ['say "hi"', 'back\\slash', '{"a":1}'], '{"say \\"hi\\"","back\\\\slash","{\\"a\\":1}"}'],
    ['commas, braces and the word NULL stay inside their quotes', ['a,b', '{x}', 'NULL', ''], '{"a,b","{x}","NULL",""}'],
  ])('%s', (_name, values, literal) => {
    expect(pgArray(values)).toBe(literal);
  });

  it("is node-postgres's literal for any strings, numbers and nulls", async () => {
    const { prepareValue } = await nodePostgres();
    const element = fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null));
    fc.assert(
      fc.property(fc.array(element, { maxLength: 20 }), (values) => {
        expect(pgArray(values)).toBe(prepareValue(values));
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses what it cannot write as an element', () => {
    expect(() => pgArray([{} as unknown as string])).toThrow(TypeError);
  });
});
