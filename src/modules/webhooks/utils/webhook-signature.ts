import { createHmac, timingSafeEqual } from 'node:crypto';

/** `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with the organization's webhook secret. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** For receivers (and tests): checks a signature header in constant time. */
export function verifyWebhookSignature(secret: string, body: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhookBody(secret, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Seconds to wait before attempt n+1 (n >= 1): 2, 4, 8, … capped at one hour. */
export function webhookBackoffSeconds(attempt: number): number {
  return Math.min(2 ** attempt, 3600);
}
