import { describe, expect, it } from '@jest/globals';
import { WriteThrottle } from './write-throttle';

describe('WriteThrottle', () => {
  it('lets one action per key through per interval', () => {
    let now = 0;
    const throttle = new WriteThrottle(60_000, 100, () => now);
    expect(throttle.take('k1')).toBe(true);
    expect(throttle.take('k1')).toBe(false);
    expect(throttle.take('k2')).toBe(true);
    now = 59_999;
    expect(throttle.take('k1')).toBe(false);
    now = 60_000;
    expect(throttle.take('k1')).toBe(true);
    expect(throttle.take('k1')).toBe(false);
  });

  it('stays bounded: the oldest key is forgotten (allowing it one early write)', () => {
    const throttle = new WriteThrottle(60_000, 2, () => 0);
    expect(throttle.take('a')).toBe(true);
    expect(throttle.take('b')).toBe(true);
    expect(throttle.take('c')).toBe(true);
    expect(throttle.take('b')).toBe(false);
    expect(throttle.take('a')).toBe(true);
  });
});
