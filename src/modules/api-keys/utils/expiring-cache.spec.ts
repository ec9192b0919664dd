import { describe, expect, it } from '@jest/globals';
import { ExpiringCache } from './expiring-cache';

describe('ExpiringCache', () => {
  it('serves an entry until its TTL, then forgets it', () => {
    let now = 0;
    const cache = new ExpiringCache<string | null>(1000, 10, () => now);
    cache.set('a', 'A');
    cache.set('missing', null);
    expect(cache.lookup('a')).toEqual({ value: 'A' });
    expect(cache.lookup('missing')).toEqual({ value: null });
    expect(cache.lookup('other')).toBeUndefined();
    now = 999;
    expect(cache.lookup('a')).toEqual({ value: 'A' });
    now = 1000;
    expect(cache.lookup('a')).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('evicts the oldest entry when full, and deletes on demand', () => {
    const cache = new ExpiringCache<number>(1000, 2, () => 0);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.lookup('a')).toBeUndefined();
    expect(cache.lookup('b')).toEqual({ value: 2 });
    cache.delete('b');
    expect(cache.lookup('b')).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('caches nothing with a TTL of 0', () => {
    const cache = new ExpiringCache<number>(0, 10, () => 0);
    cache.set('a', 1);
    expect(cache.lookup('a')).toBeUndefined();
  });
});
