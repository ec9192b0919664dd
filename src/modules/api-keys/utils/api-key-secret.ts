import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every organization API key starts with this, so a leaked key is recognizable (secret scanners, logs). */
export const API_KEY_PREFIX = 'nxk_';
/** Random bytes in a key: 256 bits, base64url (43 characters). */
export const API_KEY_RANDOM_BYTES = 32;
/** How much of the key the listing shows to tell keys apart: the prefix and 8 characters (48 of 256 bits). */
export const API_KEY_DISPLAY_LENGTH = API_KEY_PREFIX.length + 8;

const API_KEY_SHAPE = /^nxk_[A-Za-z0-9_-]{43}$/;

/** A new key: `nxk_` + 32 random bytes in base64url. `random` is injectable for tests. */
export function generateApiKey(random: (size: number) => Buffer = randomBytes): string {
  return API_KEY_PREFIX + random(API_KEY_RANDOM_BYTES).toString('base64url');
}

/** True for a string that can be an organization key: anything else is refused without a lookup. */
export function looksLikeApiKey(token: string): boolean {
  return API_KEY_SHAPE.test(token);
}

/** What the database keeps of a key: its SHA-256, hex. A fast hash suffices for 256 random bits. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Compares two key hashes (hex) in constant time. */
export function keyHashesEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ba.length === bb.length && ba.length > 0 && timingSafeEqual(ba, bb);
}

export function displayPrefix(key: string): string {
  return key.slice(0, API_KEY_DISPLAY_LENGTH);
}

/** How a key is shown wherever it is listed: its stored prefix (displayPrefix), then an ellipsis (never more of it). */
export function listedKeyPrefix(storedPrefix: string): string {
  return `${storedPrefix}…`;
}
