import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { DomainError } from '../../common/errors/domain-error';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import type { IngestLag } from './ingest-queue.types';

/** How long a measured lag stands for the bounds check, so an append does not count the whole queue each time. */
const LAG_TTL_MS = 250;

/**
 * The queue's bounds (INGEST_MAX_MESSAGES, INGEST_MAX_BYTES, INGEST_MAX_AGE_SECONDS), the same for every store.
 * Each append is checked against the last measured lag (at most LAG_TTL_MS old) plus what this instance has
 * appended since, committed or still in a transaction: exact on one instance (an append a measure may have
 * seen counts twice until the next one: the bound errs towards refusing), and with N instances the queue may
 * pass a bound by what the others appended within that quarter second. Past a bound the append throws 503 INGEST_QUEUE_FULL with Retry-After,
 * and nothing of it is written: memory never grows with a backlog, the backlog waits in the store.
 */
@Injectable()
export class IngestBounds {
  private measured?: { lag: IngestLag; at: number };
  private measuring?: Promise<IngestLag>;
  /** Committed appends of this instance that the last measure may not have seen. */
  private sinceMessages = 0;
  private sinceBytes = 0;
  /** Appends of this instance in transactions not yet ended: no measure sees them. */
  private inFlightMessages = 0;
  private inFlightBytes = 0;

  constructor(
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Throws INGEST_QUEUE_FULL when `messages` more (of `bytes`) would pass a bound. `inTransaction`: the caller
   * holds a transaction and `measure` runs in it; it must not wait for a measure started on another
   * connection (the embedded database is one session: that one waits for this transaction).
   */
  async admit(messages: number, bytes: number, measure: () => Promise<IngestLag>, inTransaction = false): Promise<void> {
    const lag = await this.current(measure, inTransaction);
    const waiting = lag.waiting + this.sinceMessages + this.inFlightMessages;
    const waitingBytes = lag.waitingBytes + this.sinceBytes + this.inFlightBytes;
    const c = this.config;
    let bound: string | undefined;
    if (waiting + messages > c.ingestMaxMessages) bound = `${c.ingestMaxMessages} messages (INGEST_MAX_MESSAGES)`;
    else if (waitingBytes + bytes > c.ingestMaxBytes) bound = `${c.ingestMaxBytes} bytes (INGEST_MAX_BYTES)`;
    else if (c.ingestMaxAgeSeconds > 0 && lag.oldestAgeMs > c.ingestMaxAgeSeconds * 1000) bound = `an oldest event of ${c.ingestMaxAgeSeconds} s (INGEST_MAX_AGE_SECONDS)`;
    if (bound) {
      // Measure again next time: the drainers may have caught up meanwhile.
      this.measured = undefined;
      throw new DomainError('INGEST_QUEUE_FULL', `The ingest queue is full (${bound}): nothing was stored; retry later`, { retryAfterSeconds: retryAfter(lag, c), waiting, waitingBytes, oldestAgeMs: lag.oldestAgeMs });
    }
  }

  /** Counts what this instance stored since the last measure (committed). */
  appended(messages: number, bytes: number): void {
    this.sinceMessages += messages;
    this.sinceBytes += bytes;
  }

  /**
   * Counts what this instance wrote in a transaction still open: as waiting until `ended` says how the
   * transaction ended (committed: appended; rolled back: gone). Counted as appended at once, a measure taken
   * by another request before the commit (it cannot see the rows) would have zeroed it: uncounted anywhere for
   * up to LAG_TTL_MS, two batches could pass a bound together.
   */
  inTransaction(messages: number, bytes: number): (committed: boolean) => void {
    this.inFlightMessages += messages;
    this.inFlightBytes += bytes;
    return (committed) => {
      this.inFlightMessages -= messages;
      this.inFlightBytes -= bytes;
      if (committed) this.appended(messages, bytes);
    };
  }

  private async current(measure: () => Promise<IngestLag>, inTransaction: boolean): Promise<IngestLag> {
    const now = this.clock.now().getTime();
    if (this.measured && now - this.measured.at < LAG_TTL_MS && now >= this.measured.at) return this.measured.lag;
    // In a transaction the measure runs on the caller's connection (it cannot wait for one started on another:
    // on the embedded database that one waits for this transaction), and it is kept like any other: kept only
    // by the measure that started it, every asynchronous batch (stored in a transaction with its receipt)
    // counted the whole queue once the last measure was a quarter second old. A scan per request that grows
    // with the backlog: the lag grew, the accepting took the drain's CPU, and it grew faster.
    // What was counted before the measure starts is committed before its snapshot: in it. What is counted
    // after may be in it or not: kept (counted twice at worst until the next measure).
    const counted = { messages: this.sinceMessages, bytes: this.sinceBytes };
    if (inTransaction) return this.keep(await measure(), counted);
    if (!this.measuring) {
      this.measuring = measure().then(
        (lag) => {
          this.measuring = undefined;
          return this.keep(lag, counted);
        },
        (error: unknown) => {
          this.measuring = undefined;
          throw error;
        },
      );
    }
    return this.measuring;
  }

  /** A measure just taken: what this instance had counted as appended when it started is in it. */
  private keep(lag: IngestLag, counted: { messages: number; bytes: number }): IngestLag {
    this.measured = { lag, at: this.clock.now().getTime() };
    this.sinceMessages = Math.max(0, this.sinceMessages - counted.messages);
    this.sinceBytes = Math.max(0, this.sinceBytes - counted.bytes);
    return lag;
  }
}

/** Seconds to wait: longer when the queue is old (the drainers are behind) than when it is only large. */
function retryAfter(lag: IngestLag, c: AppConfig): number {
  return c.ingestMaxAgeSeconds > 0 && lag.oldestAgeMs > c.ingestMaxAgeSeconds * 1000 ? 30 : 2;
}
