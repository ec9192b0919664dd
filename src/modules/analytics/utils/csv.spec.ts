import { describe, expect, it } from '@jest/globals';
import { csvField, csvLine } from './csv';

describe('csv', () => {
  it.each([
    ['plain', 'plain'],
    ['with,comma', '"with,comma"'],
    ['with "quotes"', '"with ""quotes"""'],
    ['two\nlines', '"two\nlines"'],
    ['=HYPERLINK("x")', '"\'=HYPERLINK(""x"")"'],
    ['+1', "'+1"],
    ['-2', "'-2"],
    ['@sum', "'@sum"],
    [null, ''],
    [undefined, ''],
    [-2.5, '-2.5'],
    [0, '0'],
  ] as const)('%p -> %p', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it('ends lines with CRLF', () => {
    expect(csvLine(['a', 1, null])).toBe('a,1,\r\n');
  });
});
