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

  it('deletes every entry whose value matches (a revocation from another instance names the key id)', () => {
    const cache = new ExpiringCache<{ id: string } | null>(1000, 10, () => 0);
    cache.set('h1', { id: 'k1' });
    cache.set('h2', { id: 'k2' });
    cache.set('h3', null);
    cache.deleteWhere((v) => v?.id === 'k1');
    expect(cache.lookup('h1')).toBeUndefined();
    expect(cache.lookup('h2')).toEqual({ value: { id: 'k2' } });
    expect(cache.lookup('h3')).toEqual({ value: null });
    cache.deleteWhere(() => false);
    expect(cache.size).toBe(2);
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
