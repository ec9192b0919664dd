import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { TransactionHost } from '../../common/database/transaction-host';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import type { BatchItemResult } from '../../../libs/contracts/src/tracking.types';
import { UsageTracker } from '../usage/usage-tracker.service';
import type { PreparedRun } from '../usage/usage-tracker.service';
import { laneOf } from '../usage/group-commit';
import { IngestQueue } from './ingest-queue.types';
import type { ClaimedBatch, IngestMessage } from './ingest-queue.types';
import { IngestDeliveriesRepository } from './ingest-deliveries.repository';
import { IngestReceiptsRepository } from './ingest-receipts.repository';
import type { ReceiptProgress } from './ingest-receipts.repository';
import { IngestMetrics } from './ingest-metrics';
import { IngestService } from './ingest.service';

/** How long a drainer waits after a failed batch (the database is down) before it claims again. */
const FAILURE_BACKOFF_MS = 1000;
/** How much longer an idle drainer waits between polls while another drainer of this process is draining. */
const SIBLING_POLL_FACTOR = 10;
/** The fewest events a write lane is given (below, a batch is written in fewer transactions). */
const MIN_LANE_EVENTS = 1000;
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
  /** This process's drainers whose last claim found work: each claims again at once, and ahead. */
  private working = 0;
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
    // A batch's worth appended here wakes an idle drainer at once; otherwise it looks every
    // ASYNC_FLUSH_INTERVAL_MS (events appended by other instances, a trickle here).
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

  /**
   * Claims and writes batches. While claims come back full (a backlog), it never idles: on a store that
   * continues claims (PostgreSQL) the next batch is claimed and prepared (validation, pricing: the service's
   * share of the work) while the current one is being written (PostgreSQL's share), so the two overlap
   * instead of taking turns. That batch may hold the next events of the current one's organizations: it is
   * written only after the current one commits, and given back with it when the current one fails, so an
   * organization's events are still decided in order. After a partial batch whose events waited less than
   * the poll interval (the drain keeps up) it waits for the poll interval or a batch's worth of appends:
   * claiming again at once would write the trickle in many small transactions, whose fixed cost (a dozen
   * statements each) is what then bounds it. Events that waited longer mean it is behind: it claims again.
   */
  private async loop(): Promise<void> {
    let ahead: Promise<Claimed | null> | undefined;
    let working = false;
    const setWorking = (w: boolean) => {
      if (w !== working) this.working += w ? 1 : -1;
      // Caught up: a sibling that stopped polling because of this loop polls again now, not a long wait later.
      if (working && !w) this.wake?.();
      working = w;
    };
    while (!this.stopped) {
      let current: Claimed | null;
      try {
        current = await (ahead ?? this.claimNext([]));
      } catch (error) {
        ahead = undefined;
        setWorking(false);
        this.logger.warn(`Ingest claim failed: ${(error as Error).message}`);
        await this.idle(FAILURE_BACKOFF_MS);
        continue;
      }
      ahead = undefined;
      if (!current) {
        this.isolating = 0;
        setWorking(false);
        // While a sibling drains, its claims (ahead of its writes) take whatever is claimable: polling too
        // would only repeat a claim that scans the rows it holds and finds nothing. An append still wakes.
        await this.idle(this.working > 0 ? this.config.asyncFlushIntervalMs * SIBLING_POLL_FACTOR : this.config.asyncFlushIntervalMs);
        continue;
      }
      const full = current.batch.messages.length >= this.config.asyncBatchSize;
      setWorking(full);
      if (full && this.isolating === 0 && this.queue.continuesClaims && !this.stopped) {
        ahead = this.claimNext([current.batch]);
        ahead.catch(() => undefined); // awaited (and its failure handled) on the next turn
      }
      try {
        await this.writeClaimed(current);
      } catch (error) {
        // The batch claimed ahead may hold later events of the failed batch's organizations: it goes back
        // first, so nothing of theirs is written before the failed events are.
        if (ahead) await this.giveBack(ahead);
        ahead = undefined;
        this.logger.warn(`Ingest batch not written, delivered again later: ${(error as Error).message}`);
        await this.idle(this.isolating > 0 ? this.config.asyncFlushIntervalMs : FAILURE_BACKOFF_MS);
        continue;
      }
      // Lag-driven: a partial batch whose oldest event waited longer than a poll interval means the drain
      // is behind (events arrive faster than it writes them): claim again at once, the batches grow.
      if (!full && this.isolating === 0 && waitedMs(current.batch, this.clock.now()) <= this.config.asyncFlushIntervalMs) await this.idle(this.config.asyncFlushIntervalMs);
    }
    setWorking(false);
    if (ahead) await this.giveBack(ahead);
  }

  /** Nacks a batch claimed ahead and not written (a failure before it, or shutdown). */
  private async giveBack(ahead: Promise<Claimed | null>): Promise<void> {
    const next = await ahead.catch(() => null);
    await next?.batch.nack().catch(() => undefined);
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
   * Claims a batch (up to ASYNC_BATCH_SIZE events, or one while isolating a failure) and starts preparing
   * it; null when nothing waits. `after`: this drainer's batches claimed and not yet written.
   */
  private async claimNext(after: ClaimedBatch[]): Promise<Claimed | null> {
    const isolating = this.isolating > 0;
    const batch = await this.queue.claim(isolating ? 1 : this.config.asyncBatchSize, after);
    if (!batch) return null;
    if (isolating) this.isolating--;
    const lanes = splitLanes(batch.messages, this.writeLanes(batch.messages.length)).map((messages) => {
      const run = this.tracker.prepareDrain(messages.map((m) => m.input));
      run.catch(() => undefined); // awaited by writeClaimed, which handles its failure
      return { messages, run };
    });
    return { batch, lanes };
  }

  /**
   * How many transactions write one claimed batch side by side: its organizations split by lane
   * (TRACKING_GROUP_LANES, as the group commit does), an organization's events all in one lane, in order.
   * One transaction holds the service's work and PostgreSQL's in turn; two keep both busy. PostgreSQL only:
   * each lane acknowledges its own events inside its transaction (JetStream acknowledges after the commit,
   * the batch as a whole), and the embedded database is one session (the lanes would only queue).
   */
  private writeLanes(events: number): number {
    if (this.queue.kind !== 'postgres' || !this.config.databaseUrl) return 1;
    // A small batch in one transaction: each lane's transaction costs its dozen statements whatever its size.
    return Math.max(1, Math.min(this.config.trackingGroupLanes, Math.floor(events / MIN_LANE_EVENTS)));
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
    const claimed = await this.claimNext([]);
    if (!claimed) {
      this.isolating = 0;
      return 0;
    }
    await this.writeClaimed(claimed);
    return claimed.batch.messages.length;
  }

  /**
   * Writes a claimed batch, each lane in its own transaction (they commit on their own: a lane that fails
   * leaves the others written and acknowledged); on failure gives back what is left and isolates (see
   * drainOnce), then throws.
   */
  private async writeClaimed({ batch, lanes }: Claimed): Promise<void> {
    try {
      if (lanes.length === 1) await this.write(batch, lanes[0].messages, await lanes[0].run, () => batch.ack());
      else {
        const settled = await Promise.allSettled(lanes.map(async (lane) => this.write(batch, lane.messages, await lane.run, () => batch.ack(lane.messages))));
        const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
        if (failed) throw failed.reason;
      }
    } catch (error) {
      if (batch.messages.length > 1) {
        await batch.nack().catch(() => undefined);
        this.isolating = Math.min(batch.messages.length, ISOLATE_AFTER_FAILURE);
      }
      throw error;
    }
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
      if (await this.queue.empty()) return total;
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
  private async write(batch: ClaimedBatch, lane: IngestMessage[], prepared: PreparedRun, ackInTransaction: () => Promise<void>): Promise<void> {
    const acksInTransaction = this.queue.kind === 'postgres';
    const written = new Set<string>();
    let messages = lane;
    let results: BatchItemResult[] = [];
    for (;;) {
      const pending = messages.filter((m) => m.deliveryId === undefined || !written.has(m.deliveryId));
      if (pending.length === 0) break;
      const deliveries = pending.flatMap((m) => (m.deliveryId === undefined ? [] : [m.deliveryId]));
      // The run prepared at the claim covers the whole batch; a retry without some messages prepares again.
      const run = pending.length === lane.length ? prepared : await this.tracker.prepareDrain(pending.map((m) => m.input));
      try {
        results = await this.tracker.writeDrain(
          run,
          async (outcomes) => {
            const already = await this.deliveries.claim(deliveries, this.clock.now());
            if (already.length > 0) throw new AlreadyWritten(already);
            await this.receipts.progress(receiptProgress(pending, outcomes), this.clock.now());
            if (acksInTransaction) await ackInTransaction();
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

/** A claimed batch and its preparation, started at the claim. */
interface Claimed {
  batch: ClaimedBatch;
  /** The batch's messages by write lane, each prepared on its own. */
  lanes: Array<{ messages: IngestMessage[]; run: Promise<PreparedRun> }>;
}

/** How long the oldest event of a batch had waited when it was written (its enqueuedAt to now). */
function waitedMs(batch: ClaimedBatch, now: Date): number {
  let oldest = Infinity;
  for (const m of batch.messages) oldest = Math.min(oldest, Date.parse(m.enqueuedAt));
  return oldest === Infinity ? 0 : now.getTime() - oldest;
}

/** Messages by lane of their organization (laneOf, as the group commit), each lane in claim order. */
function splitLanes(messages: IngestMessage[], lanes: number): IngestMessage[][] {
  if (lanes <= 1) return [messages];
  const by = new Map<string, IngestMessage[]>();
  for (const m of messages) {
    const lane = laneOf(m.input.organizationId, lanes);
    let list = by.get(lane);
    if (!list) by.set(lane, (list = []));
    list.push(m);
  }
  return [...by.values()];
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
