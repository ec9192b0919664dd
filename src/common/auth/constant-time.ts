import { hash, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a secret (UTF-8): digests of equal length, compared with timingSafeEqual, leak nothing of the secrets. */
export function secretDigest(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

/** Compares two secrets in constant time; hashing first makes the lengths equal and leaks nothing. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(secretDigest(a), secretDigest(b));
}

/**
 * A secret known in advance (the admin key), hashed once: checking a candidate costs one hash instead of
 * two, with the same constant-time comparison as secretsEqual. The digest follows the secret if it changes.
 */
export class KnownSecret {
  private secret?: string;
  private digest?: Buffer;

  constructor(private readonly current: () => string) {}

  matches(candidate: string): boolean {
    const secret = this.current();
    // Compares the known secret with its own last value (no candidate involved): nothing leaks through timing.
    if (secret !== this.secret || !this.digest) {
      this.digest = secretDigest(secret);
      this.secret = secret;
    }
    return timingSafeEqual(secretDigest(candidate), this.digest);
  }
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
