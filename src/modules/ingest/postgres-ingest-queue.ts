import { Inject, Injectable } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { Clock } from '../../common/clock/clock';
import { TransactionHost } from '../../common/database/transaction-host';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { IngestBounds } from './ingest-bounds';
import { IngestQueue } from './ingest-queue.types';
import type { ClaimedBatch, IngestLag, IngestMessage } from './ingest-queue.types';

/** The claims of all instances take this transaction-scoped advisory lock, one after another (see claim). */
const CLAIM_LOCK = 0x696e6765; // 'inge'

interface ClaimedRow {
  seq: string;
  id: string;
  payload: IngestMessage['input'];
  receipt_id: string | null;
  enqueued_at: Date;
}

type Waiter = { messages: IngestMessage[]; resolve: () => void; reject: (e: unknown) => void };

/**
 * The ingest queue as a PostgreSQL table (the embedded database too). An append is a committed INSERT:
 * it survives a SIGKILL of this process. Appends arriving while one is being written wait and go together in
 * the next INSERT (group commit: one flush for many concurrent single calls). An append inside an open
 * transaction (an asynchronous batch with its receipt) joins it instead: both commit, or neither.
 *
 * Claims: `FOR UPDATE SKIP LOCKED` with a lease (`claimed_until`), oldest first, and never an organization
 * that another drainer holds right now: an organization's waiting events are only ever claimed as a prefix,
 * by one drainer at a time, so its events are decided in the order they were accepted (caps, budgets).
 * Claims are serialized by a transaction-scoped advisory lock (a claim is one short statement): two claims
 * racing could otherwise each take part of one organization.
 *
 * Ack is a DELETE that joins the ambient transaction: the drainer calls it inside the ledger transaction,
 * so on PostgreSQL the ledger rows, the receipt's counts and the removal from the queue commit together.
 */
@Injectable()
export class PostgresIngestQueue extends IngestQueue {
  readonly kind = 'postgres' as const;
  override readonly continuesClaims = true;
  private pending: Waiter[] = [];
  private writing = false;

  constructor(
    private readonly tx: TransactionHost,
    private readonly clock: Clock,
    private readonly bounds: IngestBounds,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  async append(messages: IngestMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const bytes = messages.reduce((n, m) => n + byteSize(m), 0);
    await this.bounds.admit(messages.length, bytes, () => this.lag(), this.tx.active);
    if (this.tx.active) {
      await this.insert(messages);
      this.bounds.appended(messages.length, bytes);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.pending.push({ messages, resolve, reject });
      if (!this.writing) void TransactionHost.detached(() => this.writeGroups());
    });
    this.bounds.appended(messages.length, bytes);
  }

  /** Writes the waiting appends, all that arrived meanwhile in one INSERT each time (group commit). */
  private async writeGroups(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, this.pending.length);
        try {
          await this.insert(group.flatMap((w) => w.messages));
          for (const w of group) w.resolve();
        } catch (error) {
          // One caller's bad message must not fail the others: each goes again alone.
          if (group.length === 1) group[0].reject(error);
          else
            for (const w of group) {
              await this.insert(w.messages).then(w.resolve, w.reject);
            }
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async insert(messages: IngestMessage[]): Promise<void> {
    await this.tx.manager.query(
      `INSERT INTO ingest_queue (id, organization_id, receipt_id, payload, bytes, enqueued_at)
       SELECT r.id, r.organization_id, r.receipt_id, r.payload, r.bytes, r.enqueued_at
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, organization_id text, receipt_id uuid, payload jsonb, bytes int, enqueued_at timestamptz)`,
      [JSON.stringify(messages.map((m) => ({ id: m.id, organization_id: m.input.organizationId, receipt_id: m.receiptId ?? null, payload: m.input, bytes: byteSize(m), enqueued_at: m.enqueuedAt })))],
    );
  }

  async claim(max: number, after: ClaimedBatch[] = []): Promise<ClaimedBatch | null> {
    const now = this.clock.now();
    const until = leaseEnd(new Date(now.getTime() + this.config.ingestLeaseSeconds * 1000));
    const own = after.flatMap((b) => (b.lease ? [b.lease] : []));
    // Its own short transaction, never joined to a caller's: the lock is released at its commit, and on
    // the embedded database nothing else waits behind it for longer than this one statement.
    const rows = await this.tx.newTransaction(async () => {
      const m = this.tx.manager;
      await m.query(`SELECT pg_advisory_xact_lock($1)`, [CLAIM_LOCK]);
      const [claimed] = (await m.query(
        // The organizations being drained are a small set, hashed once (NOT IN a hashed subplan): a
        // correlated NOT EXISTS became a nested loop over claimed rows x waiting rows (118 s for 200,000).
        // ANY(ARRAY(…)) keeps the UPDATE on the primary key instead of a hash join over the whole table.
        // The caller's own unacknowledged claims ($4) do not hold their organizations against it: it writes
        // them before this one, so their next events may come in this claim, still in order.
        `UPDATE ingest_queue q SET claimed_until = $2::timestamptz
          WHERE q.seq = ANY(ARRAY(
            SELECT w.seq FROM ingest_queue w
             WHERE (w.claimed_until IS NULL OR w.claimed_until <= $1)
               AND w.organization_id NOT IN (SELECT c.organization_id FROM ingest_queue c WHERE c.claimed_until > $1 AND c.claimed_until <> ALL($4::timestamptz[]))
             ORDER BY w.seq LIMIT $3
             FOR UPDATE SKIP LOCKED))
         RETURNING q.seq, q.id, q.payload, q.receipt_id, q.enqueued_at`,
        [now, until, max, own],
      )) as [ClaimedRow[], number];
      return claimed;
    });
    if (rows.length === 0) return null;
    rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    const seqs = rows.map((r) => r.seq);
    const messages: IngestMessage[] = rows.map((r) => ({
      id: r.id,
      input: r.payload,
      ...(r.receipt_id ? { receiptId: r.receipt_id } : {}),
      enqueuedAt: new Date(r.enqueued_at).toISOString(),
    }));
    const seqOf = new Map(messages.map((m, i) => [m, seqs[i]]));
    return {
      messages,
      lease: until,
      // Joins the ambient transaction when there is one (the drainer's ledger transaction). Only this claim's
      // rows go (claimed_until is the claim's own lease end: a later claim of the same rows, after this lease
      // ran out, has a later one). When another drainer took them over meanwhile, the ack throws, so the
      // ledger transaction it joins rolls back instead of recording the batch a second time (its refused
      // events would be kept twice: a refusal holds no idempotency key).
      ack: async (some?: IngestMessage[]) => {
        const gone = some ? some.map((m) => seqOf.get(m)!) : seqs;
        const [{ n }] = (await this.tx.manager.query(
          `WITH gone AS (DELETE FROM ingest_queue WHERE seq = ANY($1::bigint[]) AND claimed_until = $2::timestamptz RETURNING 1) SELECT count(*)::int AS n FROM gone`,
          [gone, until],
        )) as Array<{ n: number }>;
        if (n !== gone.length) throw new Error(`Ingest claim lost: ${gone.length - n} of ${gone.length} events were claimed again after this lease ran out`);
      },
      nack: async () => {
        await this.tx.manager.query(`UPDATE ingest_queue SET claimed_until = NULL WHERE seq = ANY($1::bigint[]) AND claimed_until = $2::timestamptz`, [seqs, until]);
      },
    };
  }

  async lag(): Promise<IngestLag> {
    // The ambient transaction's connection when one is open (the embedded database is one session).
    const [row] = (await this.tx.manager.query(`SELECT count(*)::bigint AS n, coalesce(sum(bytes), 0)::bigint AS bytes, min(enqueued_at) AS oldest FROM ingest_queue`)) as Array<{ n: string; bytes: string; oldest: Date | null }>;
    const oldest = row.oldest ? Math.max(0, this.clock.now().getTime() - new Date(row.oldest).getTime()) : 0;
    return { waiting: Number(row.n), waitingBytes: Number(row.bytes), oldestAgeMs: oldest };
  }
}

/**
 * A claim's lease end as it is stored, and its identity: microseconds drawn at random below the clock's
 * milliseconds, so two claims made in the same millisecond (two instances, or clocks apart) never share it
 * (a claim continues its own earlier claims by this value, and an ack removes only its own rows).
 */
function leaseEnd(at: Date): string {
  return `${at.toISOString().slice(0, 23)}${String(randomInt(1000)).padStart(3, '0')}Z`;
}

/** A message's size as stored (its JSON), the unit of INGEST_MAX_BYTES. */
export function byteSize(m: IngestMessage): number {
  return Buffer.byteLength(JSON.stringify(m.input));
}
