import { describe, expect, it } from '@jest/globals';
import { backoffDelay, describeNetworkError, isNetworkError } from './retry';

describe('backoffDelay', () => {
  it.each([
    // attempt, base, max, random, expected
    [0, 100, 5_000, 0, 50],
    [0, 100, 5_000, 1, 100],
    [1, 100, 5_000, 1, 200],
    [2, 100, 5_000, 0.5, 300],
    [10, 100, 5_000, 1, 5_000],
    [10, 100, 5_000, 0, 2_500],
  ])('attempt %i from %i ms (cap %i, random %f) waits %i ms', (attempt, base, max, random, expected) => {
    expect(backoffDelay(attempt, base, max, () => random)).toBe(expected);
  });
});

describe('isNetworkError', () => {
  const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
  const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
  it.each([
    ['connection refused', refused, true, 'ECONNREFUSED'],
    ['a timeout', timeout, true, 'timeout'],
    ['an abort', Object.assign(new Error('aborted'), { name: 'AbortError' }), true, 'aborted'],
    ['a programming error', new TypeError('x is not a function'), false, 'x is not a function'],
    ['a JSON error', new SyntaxError('Unexpected token'), false, 'Unexpected token'],
    ['not an error', 'boom', false, 'boom'],
  ])('%s: retried %s', (_name, error, retried, described) => {
    expect(isNetworkError(error)).toBe(retried);
    expect(describeNetworkError(error)).toBe(described);
  });
});
