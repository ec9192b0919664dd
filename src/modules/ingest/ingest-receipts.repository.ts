import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../common/database/transaction-host';
import type { ReceiptRefusal } from '../../../libs/contracts/src/tracking.types';


export interface ReceiptRow {
  id: string;
  organization_id: string;
  total: number;
  keys: Array<string | null>;
  accepted: number;
  duplicates: number;
  refused: number;
  refusals: Array<Omit<ReceiptRefusal, 'index'> & { index?: number }>;
  created_at: Date;
  applied_at: Date | null;
}

/** What one drained batch adds to a receipt. */
export interface ReceiptProgress {
  receiptId: string;
  accepted: number;
  duplicates: number;
  refusals: Array<Omit<ReceiptRefusal, 'index'>>;
}

/**
 * The receipts of asynchronous batches (the ingest module owns `ingest_receipts`). Every method runs in the
 * ambient transaction: a receipt is created with its batch's append, and counted in the ledger transaction
 * that writes its events, so its counts are exactly the ledger's.
 */
@Injectable()
export class IngestReceiptsRepository {
  constructor(private readonly tx: TransactionHost) {}

  /** False when a receipt of that id exists already (a replayed batch). */
  async create(row: { id: string; organizationId: string; keys: Array<string | null>; refusals: ReceiptRefusal[]; now: Date }): Promise<boolean> {
    const [inserted] = (await this.tx.manager.query(
      `INSERT INTO ingest_receipts (id, organization_id, total, keys, refused, refusals, created_at, applied_at)
       VALUES ($1, $2, $3::int, $4::jsonb, $5::int, $6::jsonb, $7::timestamptz, CASE WHEN $5::int = $3::int THEN $7::timestamptz END)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [row.id, row.organizationId, row.keys.length, JSON.stringify(row.keys), row.refusals.length, JSON.stringify(row.refusals), row.now],
    )) as Array<{ id: string }>;
    return inserted !== undefined;
  }

  async find(organizationId: string, id: string): Promise<ReceiptRow | undefined> {
    const [row] = (await this.tx.manager.query(`SELECT * FROM ingest_receipts WHERE id = $1 AND organization_id = $2`, [id, organizationId])) as ReceiptRow[];
    return row;
  }

  /** Adds drained events to their receipts (one statement); a receipt whose every event is counted is applied. */
  async progress(items: ReceiptProgress[], now: Date): Promise<void> {
    if (items.length === 0) return;
    await this.tx.manager.query(
      `UPDATE ingest_receipts r
          SET accepted = r.accepted + p.accepted, duplicates = r.duplicates + p.duplicates,
              refused = r.refused + jsonb_array_length(p.refusals), refusals = r.refusals || p.refusals,
              applied_at = CASE WHEN r.accepted + p.accepted + r.duplicates + p.duplicates + r.refused + jsonb_array_length(p.refusals) >= r.total THEN $2::timestamptz END
         FROM jsonb_to_recordset($1::jsonb) AS p("receiptId" uuid, accepted int, duplicates int, refusals jsonb)
        WHERE r.id = p."receiptId"`,
      [JSON.stringify(items), now],
    );
  }
}
