import type { TrackInput } from '../usage/usage.types';

/**
 * Durable asynchronous ingestion: the contract between whoever accepts an asynchronous event (an async
 * `@TrackUsage` route, the injectable tracker, an asynchronous batch) and the drainers that write it to the
 * ledger. Two stores implement it: a PostgreSQL queue table (the default, the embedded database too) and a
 * NATS JetStream stream (when NATS_URL is set).
 *
 * The invariant: an event answered as accepted has been appended, and `append` resolves only once the
 * message survives a SIGKILL of this process (a committed row, a JetStream publish acknowledgement).
 * A message is removed only by `ack`, after the ledger transaction that recorded it (accepted or refused)
 * committed; anything claimed and not acknowledged is delivered again, which the idempotency key makes
 * harmless (exactly one charge).
 */
export interface IngestMessage {
  /**
   * Unique per event and stable across retries: the store's duplicate key (JetStream `Nats-Msg-Id`). Built
   * from the organization and the event's idempotency key.
   */
  id: string;
  /** The event. `idempotencyKey` is always set: generated at acceptance when the caller gave none. */
  input: TrackInput;
  /** The receipt of the asynchronous batch the event came in, if any. */
  receiptId?: string;
  /** When it was accepted (ISO 8601): the queue's age. */
  enqueuedAt: string;
  /**
   * Set by a store whose acknowledgement cannot join the ledger transaction (JetStream): this stored
   * message's identity, the same on every redelivery and never shared by two messages (unlike `id`, which a
   * retried publish past the duplicate window shares). The drainer records it in the ledger transaction, so
   * a batch delivered again after its commit is acknowledged without being written twice.
   */
  deliveryId?: string;
}

/** Messages claimed by one drainer; no other drainer (on any instance) gets them until ack, nack or lease expiry. */
export interface ClaimedBatch {
  messages: IngestMessage[];
  /**
   * The claim's own identity when the store can continue it (PostgreSQL: its lease end, unique to the
   * claim): a later claim given it may take the same organizations' next events (see `claim`).
   */
  lease?: string;
  /**
   * The ledger transaction that recorded them committed: remove them for good. `messages`: only these (a
   * batch written in several transactions, each removing its own; PostgreSQL, inside each transaction).
   */
  ack(messages?: IngestMessage[]): Promise<void>;
  /** They could not be written (database down): deliver them again (those not acknowledged already). */
  nack(): Promise<void>;
}

/** What waits: for /metrics, the Jobs page and the lag alert. */
export interface IngestLag {
  waiting: number;
  waitingBytes: number;
  /** Age of the oldest waiting message in milliseconds (0 when none waits). */
  oldestAgeMs: number;
}

export abstract class IngestQueue {
  abstract readonly kind: 'postgres' | 'jetstream';
  /**
   * Stores messages durably, all or none. Throws a DomainError INGEST_QUEUE_FULL (503, with the
   * retry-after seconds in its details) when a configured bound (messages, bytes, age) would be passed.
   */
  abstract append(messages: IngestMessage[]): Promise<void>;
  /**
   * Claims up to `max` waiting messages, oldest first; null when none waits. `after`: batches this caller
   * claimed and has not acknowledged yet, which it will write before this one (a drainer claiming its next
   * batch while it writes the current one): their organizations are not held against it, so it may take
   * their next events. A store that cannot continue a claim (`continuesClaims` false) ignores it.
   */
  abstract claim(max: number, after?: ClaimedBatch[]): Promise<ClaimedBatch | null>;
  /** Whether `claim(max, after)` continues the organizations of `after` (a drainer may then claim ahead). */
  readonly continuesClaims: boolean = false;
  abstract lag(): Promise<IngestLag>;
  /** Whether nothing waits (what drainAll waits for): from the store itself, not from a kept count. */
  async empty(): Promise<boolean> {
    return (await this.lag()).waiting === 0;
  }
}
