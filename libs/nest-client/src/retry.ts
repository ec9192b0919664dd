/**
 * Delay before retry number `attempt` (0 = the first retry): exponential from `baseMs`, capped at `maxMs`,
 * with "full jitter" (a random point in [delay/2, delay]) so that many clients that lost the service at the
 * same instant do not come back in lockstep. `random` is injectable for tests.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs = 5_000, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/**
 * Whether a failed `fetch` is worth retrying: the request may not have reached the service, or its answer
 * was lost (connection refused or reset, DNS, a timeout). Any HTTP answer, an error status included, is the
 * service's decision and is never retried.
 */
export function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // AbortSignal.timeout() rejects with a DOMException named TimeoutError; undici wraps socket errors in a
  // TypeError("fetch failed") whose cause carries the code (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, ...).
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true;
  return error instanceof TypeError && /fetch failed|network|socket|terminated/i.test(error.message);
}

/** A short description of a network error for logs and the 503 body (never the request or its key). */
export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error.name === 'TimeoutError') return 'timeout';
  return cause?.code ?? cause?.message ?? error.message;
}
