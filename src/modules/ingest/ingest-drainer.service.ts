import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { TransactionHost } from '../../common/database/transaction-host';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import type { BatchItemResult } from '../../../libs/contracts/src/tracking.types';
import { UsageTracker } from '../usage/usage-tracker.service';
import { IngestQueue } from './ingest-queue.types';
import type { ClaimedBatch, IngestMessage } from './ingest-queue.types';
import { IngestDeliveriesRepository } from './ingest-deliveries.repository';
import { IngestReceiptsRepository } from './ingest-receipts.repository';
import type { ReceiptProgress } from './ingest-receipts.repository';
import { IngestMetrics } from './ingest-metrics';
import { IngestService } from './ingest.service';

/** How long a drainer waits after a failed batch (the database is down) before it claims again. */
const FAILURE_BACKOFF_MS = 1000;
/** After a failed batch, how many claims take a single event (to find the one that fails). */
const ISOLATE_AFTER_FAILURE = 100;

/**
 * Drains the ingest queue on EVERY instance (not a locked job: claims never overlap, see the queue). Each
 * loop claims up to ASYNC_BATCH_SIZE events of any organizations and writes them through the set-based
 * debit in one ledger transaction: accepted and refused events, the receipts' counts, and on PostgreSQL the
 * queue's acknowledgement (the DELETE joins that transaction, so nothing is ever written twice). On
 * JetStream the acknowledgement follows the commit; a crash between the two redelivers, which the
 * idempotency keys make a duplicate: one charge.
 *
 * It never holds a transaction while waiting for anything but its own statements (the embedded database is
 * one session): validation and pricing run before the transaction opens.
 */
@Injectable()
export class IngestDrainer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(IngestDrainer.name);
  private stopped = false;
  private loops: Array<Promise<void>> = [];
  private wake?: () => void;
  private appendedSinceWake = 0;
  private isolating = 0;
  drained = 0;

  constructor(
    private readonly queue: IngestQueue,
    private readonly tracker: UsageTracker,
    private readonly receipts: IngestReceiptsRepository,
    private readonly deliveries: IngestDeliveriesRepository,
    private readonly ingest: IngestService,
    private readonly clock: Clock,
    private readonly metrics: IngestMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    // A batch's worth waiting wakes an idle drainer at once; otherwise it looks every ASYNC_FLUSH_INTERVAL_MS.
    this.ingest.onAppend((n) => {
      this.appendedSinceWake += n;
      if (this.appendedSinceWake >= this.config.asyncBatchSize) this.wake?.();
    });
    for (let i = 0; i < this.config.ingestDrainers; i++) this.loops.push(TransactionHost.detached(() => this.loop()));
  }

  /** Stops claiming; the batches being written finish (what is not claimed waits in the queue, durable). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let written: number;
      try {
        written = await this.drainOnce();
      } catch (error) {
        this.logger.warn(`Ingest batch not written, delivered again later: ${(error as Error).message}`);
        await this.idle(this.isolating > 0 ? this.config.asyncFlushIntervalMs : FAILURE_BACKOFF_MS);
        continue;
      }
      if (written < this.config.asyncBatchSize) await this.idle(this.config.asyncFlushIntervalMs);
    }
  }

  private idle(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.appendedSinceWake = 0;
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /**
   * Claims one batch and writes it; the number of events written (0: nothing was waiting).
   *
   * A batch that fails (the database is down, or one event that cannot be written for a reason no refusal
   * covers) is given back, and the next claims take one event at a time (ISOLATE_AFTER_FAILURE of them): an
   * event that fails alone keeps its claim until its lease ends, so its organization waits (its order is
   * kept) while every other organization's events go on. Nothing is dropped.
   */
  async drainOnce(): Promise<number> {
    const isolating = this.isolating > 0;
    const batch = await this.queue.claim(isolating ? 1 : this.config.asyncBatchSize);
    if (!batch) {
      this.isolating = 0;
      return 0;
    }
    if (isolating) this.isolating--;
    try {
      await this.write(batch);
    } catch (error) {
      if (batch.messages.length > 1) {
        await batch.nack().catch(() => undefined);
        this.isolating = Math.min(batch.messages.length, ISOLATE_AFTER_FAILURE);
      }
      throw error;
    }
    return batch.messages.length;
  }

  /**
   * Writes everything waiting, this instance's and others' (flush before a check, graceful shutdown, tests):
   * returns when the queue is empty. Batches other drainers hold are waited for.
   */
  async drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.drainOnce();
      total += n;
      if (n > 0) continue;
      if ((await this.queue.lag()).waiting === 0) return total;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Writes a claimed batch and acknowledges it. On a store whose acknowledgement follows the commit
   * (JetStream), the batch's delivery ids are recorded in the same ledger transaction: a message whose id is
   * there already was written by an earlier delivery (a crash between the commit and the acknowledgement,
   * or a lease that ran out under a slow write), so the transaction is rolled back and written again without
   * it, and the whole batch is acknowledged. Its receipt and its refusal are counted once.
   */
  private async write(batch: ClaimedBatch): Promise<void> {
    const acksInTransaction = this.queue.kind === 'postgres';
    const written = new Set<string>();
    let messages = batch.messages;
    let results: BatchItemResult[] = [];
    for (;;) {
      const pending = messages.filter((m) => m.deliveryId === undefined || !written.has(m.deliveryId));
      if (pending.length === 0) break;
      const deliveries = pending.flatMap((m) => (m.deliveryId === undefined ? [] : [m.deliveryId]));
      try {
        results = await this.tracker.drain(
          pending.map((m) => m.input),
          async (outcomes) => {
            const already = await this.deliveries.claim(deliveries, this.clock.now());
            if (already.length > 0) throw new AlreadyWritten(already);
            await this.receipts.progress(receiptProgress(pending, outcomes), this.clock.now());
            if (acksInTransaction) await batch.ack();
          },
        );
        break;
      } catch (error) {
        if (!(error instanceof AlreadyWritten)) throw error;
        for (const id of error.deliveryIds) written.add(id);
        this.metrics.redelivered.inc(error.deliveryIds.length);
        messages = pending;
        results = [];
      }
    }
    if (!acksInTransaction) {
      await batch.ack();
      const ids = batch.messages.flatMap((m) => (m.deliveryId === undefined ? [] : [m.deliveryId]));
      // Confirmed: these messages never come back. A failure here only leaves rows for the daily sweep.
      if (ids.length > 0) await this.deliveries.forget(ids, this.clock.now()).catch((error: unknown) => this.logger.warn(`Delivery ids not removed: ${(error as Error).message}`));
    }
    this.drained += results.length;
    const counts = { accepted: 0, duplicate: 0, rejected: 0 };
    for (const r of results) counts[r.status]++;
    for (const [status, n] of Object.entries(counts)) if (n > 0) this.metrics.drained.inc({ status }, n);
    // Each refusal is kept (event log ?status=refused, reconciliation, a notice): one line per batch here.
    if (counts.rejected > 0) this.logger.warn(`${counts.rejected} asynchronous events refused when written (kept as refused events)`);
  }
}

/** Rolls back a drain whose batch holds messages an earlier delivery wrote. */
class AlreadyWritten extends Error {
  constructor(readonly deliveryIds: string[]) {
    super(`${deliveryIds.length} messages of the batch were written by an earlier delivery`);
  }
}

/** What a drained batch adds to each receipt it touches. */
function receiptProgress(messages: IngestMessage[], outcomes: BatchItemResult[]): ReceiptProgress[] {
  const byReceipt = new Map<string, ReceiptProgress>();
  messages.forEach((m, i) => {
    if (!m.receiptId) return;
    let p = byReceipt.get(m.receiptId);
    if (!p) byReceipt.set(m.receiptId, (p = { receiptId: m.receiptId, accepted: 0, duplicates: 0, refusals: [] }));
    const o = outcomes[i];
    if (o.status === 'accepted') p.accepted++;
    else if (o.status === 'duplicate') p.duplicates++;
    else if (o.status === 'rejected') p.refusals.push({ idempotencyKey: m.input.idempotencyKey ?? null, eventType: m.input.eventType, error: o.error.error, message: o.error.message });
  });
  return [...byReceipt.values()];
}
