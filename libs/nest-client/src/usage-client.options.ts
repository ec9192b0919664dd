import type { UsageClientOptions } from './usage-client';

export const USAGE_CLIENT_OPTIONS = Symbol('USAGE_CLIENT_OPTIONS');

export interface UsageClientModuleOptions extends UsageClientOptions {
  /**
   * What a `@TrackUsage` route does when the service cannot be reached or times out. `closed` (default):
   * 503 METERING_UNAVAILABLE before the handler runs. `open`: the handler runs and the event is journaled on
   * disk (`journalPath`), charged under its idempotency key when the service is back.
   */
  failMode?: 'closed' | 'open';
  /** The durable outbox (default `./.credit-metering/journal.jsonl`); one per process. */
  journalPath?: string;
  /** How often the journal is retried while it holds events (default 1,000 ms). */
  deliveryIntervalMs?: number;
  /**
   * Check at boot that the key can meter (`GET /api/key`) and log one line when it cannot (default true).
   * In the background: the application starts either way.
   */
  checkKeyAtBoot?: boolean;
  /**
   * The largest answer of a `@TrackUsage` route sent to the service with its commit, to be kept for a
   * replay under the same Idempotency-Key (default 65,536 bytes of JSON, the service's default
   * IDEMPOTENT_RESPONSE_MAX_BYTES). A larger one is not sent: its replay is 409 IDEMPOTENCY_REPLAYED.
   */
  maxAnswerBytes?: number;
}
