import { Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { Clock } from '../../common/clock/clock';
import { DomainError } from '../../common/errors/domain-error';
import { TransactionHost } from '../../common/database/transaction-host';
import type { TrackInput } from '../usage/usage.types';
import { IngestMetrics } from './ingest-metrics';
import { IngestQueue } from './ingest-queue.types';
import type { IngestMessage } from './ingest-queue.types';
import { IngestReceiptsRepository } from './ingest-receipts.repository';
import type { AsyncBatchAccepted, IngestReceipt, ReceiptRefusal } from '../../../libs/contracts/src/tracking.types';

/**
 * Acceptance of asynchronous events: every one gets an idempotency key (the caller's, else one generated
 * here, so that a redelivery of the stored message is charged once) and its acceptance time, and is stored
 * in the ingest queue before the caller is answered. Validation and pricing happen before this (the caller
 * of `accept` answers 4xx for what can never be written).
 */
@Injectable()
export class IngestService {
  private readonly listeners: Array<(count: number) => void> = [];

  constructor(
    private readonly queue: IngestQueue,
    private readonly receipts: IngestReceiptsRepository,
    private readonly tx: TransactionHost,
    private readonly clock: Clock,
    private readonly metrics: IngestMetrics,
  ) {}

  /** Called after every append of this instance (the drainers wake up when a batch' worth waits). */
  onAppend(listener: (count: number) => void): void {
    this.listeners.push(listener);
  }

  /** Stores validated events; resolves once they are durable. Returns them as stored (keys and times set). */
  async accept(inputs: TrackInput[], receiptId?: string): Promise<TrackInput[]> {
    const now = this.clock.now().toISOString();
    const stored = inputs.map((input) => ({ ...input, idempotencyKey: input.idempotencyKey ?? `ingest-${randomUUID()}`, acceptedAt: input.acceptedAt ?? now }));
    try {
      await this.queue.append(stored.map((input) => toMessage(input, now, receiptId)));
    } catch (error) {
      if (error instanceof DomainError && error.code === 'INGEST_QUEUE_FULL') this.metrics.full.inc();
      throw error;
    }
    this.metrics.appended.inc({ store: this.queue.kind }, stored.length);
    for (const l of this.listeners) l(stored.length);
    return stored;
  }

  /**
   * An asynchronous batch: items that failed validation (DomainErrors, in place) are refused at once and
   * written on the receipt; the others are stored with the receipt in one transaction (on PostgreSQL). The
   * batch's own Idempotency-Key names its receipt: a replay answers the same receipt and stores nothing again.
   */
  async acceptBatch(organizationId: string, items: Array<TrackInput | DomainError>, batchKey?: string): Promise<AsyncBatchAccepted> {
    const receiptId = batchKey ? keyedUuid(organizationId, batchKey) : randomUUID();
    const refusals: ReceiptRefusal[] = [];
    const inputs: TrackInput[] = [];
    const keys = items.map((item, index) => {
      if (item instanceof DomainError) {
        refusals.push({ index, idempotencyKey: null, eventType: null, error: item.code, message: item.message });
        return null;
      }
      // A generated key is the receipt's and the place's: the same batch replayed keeps its keys.
      const key = item.idempotencyKey ?? `${receiptId}.${index}`;
      inputs.push({ ...item, idempotencyKey: key });
      return key;
    });
    const accepted = inputs.length;
    const existing = await this.receipts.find(organizationId, receiptId);
    if (existing) return { receiptId, accepted: existing.keys.filter((k) => k !== null).length };
    let created = false;
    await this.tx.transaction(async () => {
      created = await this.receipts.create({ id: receiptId, organizationId, keys, refusals, now: this.clock.now() });
      // A replay racing its original: the original's transaction stores the events.
      if (created && inputs.length > 0) await this.accept(inputs, receiptId);
    });
    return { receiptId, accepted };
  }

  async receipt(organizationId: string, receiptId: string): Promise<IngestReceipt> {
    const row = /^[0-9a-f-]{36}$/i.test(receiptId) ? await this.receipts.find(organizationId, receiptId) : undefined;
    if (!row) throw new DomainError('NOT_FOUND', `Receipt ${receiptId} not found`, { receiptId });
    const places = new Map<string, number>();
    row.keys.forEach((k, i) => {
      if (k !== null && !places.has(k)) places.set(k, i);
    });
    const refusals = row.refusals
      .map((r) => ({ index: r.index ?? places.get(r.idempotencyKey ?? '') ?? -1, idempotencyKey: r.idempotencyKey, eventType: r.eventType, error: r.error, message: r.message }))
      .sort((a, b) => a.index - b.index);
    return {
      receiptId: row.id,
      status: row.applied_at ? 'applied' : 'pending',
      total: row.total,
      accepted: row.accepted,
      duplicates: row.duplicates,
      refused: row.refused,
      refusals,
      createdAt: new Date(row.created_at).toISOString(),
      appliedAt: row.applied_at ? new Date(row.applied_at).toISOString() : null,
    };
  }
}

function toMessage(input: TrackInput, enqueuedAt: string, receiptId?: string): IngestMessage {
  return { id: `${input.organizationId}:${input.idempotencyKey}`, input, ...(receiptId ? { receiptId } : {}), enqueuedAt };
}

/** A stable UUID for (organization, key): the receipt of a batch sent with an Idempotency-Key. */
function keyedUuid(organizationId: string, key: string): string {
  const h = createHash('sha256').update(`${organizationId}\u0000${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
