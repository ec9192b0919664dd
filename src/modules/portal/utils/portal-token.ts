import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every portal token starts with this: told apart from an API key (`nxk_`) without a lookup. */
export const PORTAL_TOKEN_PREFIX = 'nxp_';
const PORTAL_TOKEN_SHAPE = /^nxp_[A-Za-z0-9_-]{43}$/;

/** How long a link lives: 60 minutes unless asked, 5 minutes to 24 hours. */
export const PORTAL_TTL_DEFAULT_MINUTES = 60;
export const PORTAL_TTL_MIN_MINUTES = 5;
export const PORTAL_TTL_MAX_MINUTES = 24 * 60;

/** A new token: `nxp_` + 32 random bytes in base64url. `random` is injectable for tests. */
export function generatePortalToken(random: (size: number) => Buffer = randomBytes): string {
  return PORTAL_TOKEN_PREFIX + random(32).toString('base64url');
}

/** Anything with the `nxp_` prefix is treated as a portal token (so it never reaches the API key lookup). */
export function isPortalTokenAttempt(token: string): boolean {
  return token.startsWith(PORTAL_TOKEN_PREFIX);
}

/** The exact shape of a real token: anything else is refused without a lookup. */
export function looksLikePortalToken(token: string): boolean {
  return PORTAL_TOKEN_SHAPE.test(token);
}

/** What the database keeps: the SHA-256, hex (256 random bits need no slow hash). */
export function hashPortalToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function portalHashesEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ba.length === bb.length && ba.length > 0 && timingSafeEqual(ba, bb);
}

/**
 * The link the customer opens: the token goes in the URL's fragment, which browsers never send to a server
 * (no access log, proxy or Referer sees it); the dashboard reads it, keeps it in the tab's session storage
 * and removes it from the address bar.
 */
export function portalUrl(origin: string, token: string): string {
  return `${origin.replace(/\/+$/, '')}/dashboard#portal=${token}`;
}
