import { describe, expect, it } from '@jest/globals';
import { containsPattern } from './search-pattern';

describe('containsPattern', () => {
  it.each([
    ['acme', '%acme%'],
    ['50%', '%50\\%%'],
    ['a_b', '%a\\_b%'],
    ['back\\slash', '%back\\\\slash%'],
    ['', '%%'],
  ])('%p -> %p', (q, pattern) => expect(containsPattern(q)).toBe(pattern));
});
