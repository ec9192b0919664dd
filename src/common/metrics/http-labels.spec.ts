import { describe, expect, it } from '@jest/globals';
import { HttpLabelCache } from './http-labels';

describe('HttpLabelCache', () => {
  it('answers the same label object for the same route, method and status, and distinct ones otherwise', () => {
    const cache = new HttpLabelCache();
    const a = cache.get('POST', '/api/organizations/:orgId/usage/events', 201);
    expect(a).toEqual({ method: 'POST', route: '/api/organizations/:orgId/usage/events', status: '201' });
    expect(cache.get('POST', '/api/organizations/:orgId/usage/events', 201)).toBe(a);
    expect(cache.get('POST', '/api/organizations/:orgId/usage/events', 402)).toEqual({ method: 'POST', route: '/api/organizations/:orgId/usage/events', status: '402' });
    expect(cache.get('GET', '/api/organizations/:orgId/usage/events', 201)).not.toBe(a);
    expect(cache.get('POST', 'unmatched', 201).route).toBe('unmatched');
  });

  it('stops caching past its bound but still answers correct labels', () => {
    const cache = new HttpLabelCache();
    for (let i = 0; i < 5_000; i++) cache.get('GET', `/r${i}`, 200);
    const late = cache.get('GET', '/late', 404);
    expect(late).toEqual({ method: 'GET', route: '/late', status: '404' });
    expect(cache.get('GET', '/late', 404)).not.toBe(late);
    expect(cache.get('GET', '/r1', 200)).toBe(cache.get('GET', '/r1', 200));
  });
});
