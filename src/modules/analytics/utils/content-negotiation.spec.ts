import { describe, expect, it } from '@jest/globals';
import { wantsCsv } from './content-negotiation';

describe('wantsCsv', () => {
  it.each([
    [undefined, undefined, false],
    [undefined, 'application/json', false],
    [undefined, 'text/csv', true],
    [undefined, 'application/json;q=0.5, TEXT/CSV; charset=utf-8', true],
    [undefined, '*/*', false],
    ['csv', 'application/json', true],
    ['json', 'text/csv', false],
  ] as const)('format %p, Accept %p: %p', (format, accept, expected) => {
    expect(wantsCsv(format, accept)).toBe(expected);
  });
});
