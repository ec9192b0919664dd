import { describe, expect, it } from '@jest/globals';
import { generatePortalToken, hashPortalToken, isPortalTokenAttempt, looksLikePortalToken, portalHashesEqual, portalUrl } from './portal-token';

describe('portal tokens', () => {
  it('are nxp_ + 43 base64url characters, never an API key', () => {
    const token = generatePortalToken(() => Buffer.alloc(32, 7));
    expect(token).toMatch(/^nxp_[A-Za-z0-9_-]{43}$/);
    expect(looksLikePortalToken(token)).toBe(true);
    expect(generatePortalToken()).not.toBe(generatePortalToken());
  });

  it.each([
    ['nxp_' + 'a'.repeat(43), true, true],
    ['nxp_' + 'a'.repeat(42), true, false],
    ['nxp_' + 'a'.repeat(42) + '!', true, false],
    ['nxk_' + 'a'.repeat(43), false, false],
    ['', false, false],
  ])('%p: attempt %p, well-formed %p', (token, attempt, shape) => {
    expect(isPortalTokenAttempt(token)).toBe(attempt);
    expect(looksLikePortalToken(token)).toBe(shape);
  });

  it('is stored as its SHA-256 and compared in constant time', () => {
    const hash = hashPortalToken('nxp_x');
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(portalHashesEqual(hash, hashPortalToken('nxp_x'))).toBe(true);
    expect(portalHashesEqual(hash, hashPortalToken('nxp_y'))).toBe(false);
    expect(portalHashesEqual(hash, '')).toBe(false);
  });

  it('puts the token in the fragment, which browsers never send', () => {
    expect(portalUrl('http://localhost:5000/', 'nxp_t')).toBe('http://localhost:5000/dashboard#portal=nxp_t');
  });
});
