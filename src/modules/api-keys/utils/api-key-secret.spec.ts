import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { displayPrefix, generateApiKey, hashApiKey, keyHashesEqual, looksLikeApiKey } from './api-key-secret';

describe('api key secrets', () => {
  it('makes nxk_ + 32 random bytes in base64url, different every time', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey()));
    expect(keys.size).toBe(1000);
    for (const key of [...keys].slice(0, 20)) {
      expect(key).toMatch(/^nxk_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(key.slice(4), 'base64url')).toHaveLength(32);
      expect(looksLikeApiKey(key)).toBe(true);
    }
  });

  it('uses the injected randomness', () => {
    expect(generateApiKey((n) => Buffer.alloc(n, 0xff))).toBe(`nxk_${'_'.repeat(42)}8`);
  });

  it('refuses anything shaped otherwise without a lookup', () => {
    for (const token of ['', 'nxk_', `nxk_${'a'.repeat(42)}`, `nxk_${'a'.repeat(44)}`, `NXK_${'a'.repeat(43)}`, `nxk_${'a'.repeat(42)}=`, 'dev-admin-key', `nxk_${'a'.repeat(42)}\n`]) {
      expect(looksLikeApiKey(token)).toBe(false);
    }
  });

  it('hashes with SHA-256 (hex) and compares hashes in constant time', () => {
    const key = generateApiKey();
    const hash = hashApiKey(key);
    expect(hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(keyHashesEqual(hash, hashApiKey(key))).toBe(true);
    expect(keyHashesEqual(hash, hashApiKey(generateApiKey()))).toBe(false);
    expect(keyHashesEqual(hash, hash.slice(0, 62))).toBe(false);
    expect(keyHashesEqual('', '')).toBe(false);
  });

  it('shows only the prefix and 8 characters', () => {
    expect(displayPrefix('nxk_ABCDEFGHIJKLMNOP')).toBe('nxk_ABCDEFGH');
  });
});
