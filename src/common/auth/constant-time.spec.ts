import { describe, expect, it } from '@jest/globals';
import { bearerToken, KnownSecret, secretsEqual } from './constant-time';

describe('secretsEqual and KnownSecret', () => {
  it('agree on every pair, lengths and unicode included', () => {
    const current = 'admin-key-0123456789';
    const known = new KnownSecret(() => current);
    for (const candidate of ['admin-key-0123456789', 'admin-key-012345678', 'admin-key-01234567890', '', 'Zoë 🧨']) {
      expect(known.matches(candidate)).toBe(secretsEqual(candidate, current));
    }
    expect(known.matches('admin-key-0123456789')).toBe(true);
  });

  it('follows the secret when it changes (no stale digest)', () => {
    let current = 'first-key-0123456789';
    const known = new KnownSecret(() => current);
    expect(known.matches('first-key-0123456789')).toBe(true);
    current = 'second-key-0123456789';
    expect(known.matches('first-key-0123456789')).toBe(false);
    expect(known.matches('second-key-0123456789')).toBe(true);
  });

  it('reads a bearer token', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
