import { describe, expect, it } from '@jest/globals';
import helmet from 'helmet';
import { helmetHeaders } from './security-headers';

describe('helmetHeaders', () => {
  it('is exactly what helmet sets on a response, in its order', () => {
    const set: Array<[string, string]> = [];
    const response = { setHeader: (name: string, value: string) => set.push([name, value]), removeHeader: () => undefined };
    helmet()({} as never, response as never, () => undefined);
    expect(helmetHeaders()).toEqual(set);
    expect(new Map(helmetHeaders()).get('X-Frame-Options')).toBe('SAMEORIGIN');
  });

  it('follows the options it is given', () => {
    expect(new Map(helmetHeaders({ frameguard: { action: 'deny' } })).get('X-Frame-Options')).toBe('DENY');
    expect(new Map(helmetHeaders({ contentSecurityPolicy: false })).has('Content-Security-Policy')).toBe(false);
  });
});
