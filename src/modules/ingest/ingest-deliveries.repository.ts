import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../common/database/transaction-host';

/** How long a delivery id is kept when its acknowledgement was never confirmed (a crash after the commit). */
export const STALE_DELIVERY_MS = 24 * 60 * 60 * 1000;

/**
 * The written deliveries of a store whose acknowledgement is not part of the ledger transaction (JetStream);
 * the ingest module owns `ingest_deliveries`. `claim` runs in the ledger transaction that writes the events,
 * so a delivery id is there exactly when its events are.
 */
@Injectable()
export class IngestDeliveriesRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Records the deliveries as written; returns those that were already (a redelivery). A concurrent writer
   * of the same message (its lease ran out under a slow write) waits on the first one's row until it
   * commits or rolls back: two transactions never both write one message.
   */
  async claim(ids: string[], now: Date): Promise<string[]> {
    if (ids.length === 0) return [];
    // Sorted: two writers that share messages take their rows in one order (no deadlock).
    const sorted = [...new Set(ids)].sort();
    const inserted = (await this.tx.manager.query(
      `INSERT INTO ingest_deliveries (id, applied_at) SELECT id, $2::timestamptz FROM unnest($1::text[]) AS id
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [sorted, now],
    )) as Array<{ id: string }>;
    const fresh = new Set(inserted.map((r) => r.id));
    return sorted.filter((id) => !fresh.has(id));
  }

  /** The acknowledgement of these deliveries was confirmed: they never come back. Also sweeps stale ones. */
  async forget(ids: string[], now: Date): Promise<void> {
    await this.tx.manager.query(`DELETE FROM ingest_deliveries WHERE id = ANY($1::text[]) OR applied_at < $2::timestamptz`, [
      ids,
      new Date(now.getTime() - STALE_DELIVERY_MS),
    ]);
  }
}
