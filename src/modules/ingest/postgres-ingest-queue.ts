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
  organization_id: string;
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
 * Claims: oldest first, and never an organization that another drainer holds right now: an organization's
 * waiting events are only ever claimed as a prefix, by one drainer at a time, so its events are decided in
 * the order they were accepted (caps, budgets). What a claim holds is a lease per organization it took
 * (`ingest_leases`: its lease end, which is its identity, and the newest event it took), not a mark on each
 * event: the claimed rows are only read, so a claim costs a read of its events and a row per organization
 * instead of a rewrite of every event. Claims are serialized by a transaction-scoped advisory lock (a claim
 * is three short statements): two claims racing could otherwise each take part of one organization.
 *
 * Ack is a DELETE of the events and their leases that joins the ambient transaction: the drainer calls it
 * inside the ledger transaction, so on PostgreSQL the ledger rows, the receipt's counts and the removal from
 * the queue commit together.
 */
@Injectable()
export class PostgresIngestQueue extends IngestQueue {
  readonly kind = 'postgres' as const;
  override readonly continuesClaims = true;
  private pending: Waiter[] = [];
  private writing = false;
  /** The newest event of each organization a claim took (what its lease rows say), for the claims after it. */
  private readonly lastSeqs = new WeakMap<ClaimedBatch, Map<string, string>>();

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
      // Visible to other sessions only once the caller's transaction commits.
      this.tx.afterEnd(this.bounds.inTransaction(messages.length, bytes));
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
    // The caller's own unacknowledged claims, and the newest event each took by organization. Only claims
    // made here: a lease whose events this instance does not know keeps holding its organizations.
    const mine = after.filter((b) => b.lease !== undefined && this.lastSeqs.has(b));
    // A lease is the caller's own by its organization AND its lease end: two claims' lease ends may collide
    // (1 in 1,000 within a millisecond), and another drainer's lease with the same end is not the caller's.
    const ownOrganizations: string[] = [];
    const ownLeases: string[] = [];
    const taken: Record<string, string> = {};
    for (const b of mine) {
      for (const [organization, seq] of this.lastSeqs.get(b)!) {
        ownOrganizations.push(organization);
        ownLeases.push(b.lease!);
        if (!(organization in taken) || BigInt(seq) > BigInt(taken[organization])) taken[organization] = seq;
      }
    }
    // Its own short transaction, never joined to a caller's: the lock is released at its commit, and on
    // the embedded database nothing else waits behind it for longer than these statements.
    const rows = await this.tx.newTransaction(async () => {
      const m = this.tx.manager;
      await m.query(`SELECT pg_advisory_xact_lock($1)`, [CLAIM_LOCK]);
      // Leases that ran out go first, in their own statement: their events are claimable again, and a holder
      // still writing them now fails its ack instead of removing events this claim may hand out. A lease
      // whose holder is acknowledging right now is locked (its ack deletes it): skipped, it keeps holding its
      // organization in the claim below (every lease row does), so the claim neither waits for that
      // transaction nor hands out the events it is removing; a later claim deletes it if it rolls back.
      await m.query(`DELETE FROM ingest_leases WHERE (organization_id, lease) IN (SELECT organization_id, lease FROM ingest_leases WHERE lease <= $1 FOR UPDATE SKIP LOCKED)`, [now]);
      return (await m.query(
        // A waiting event is claimable unless a lease row holds its organization: another claim's (its events
        // are decided in order, by one drainer at a time), or one of the caller's own unacknowledged claims
        // ($3 and $5: organization and lease end) that took it already ($4: the newest event each took, by organization; those claims are
        // written before this one, so the organization's next events may come in this claim, still in
        // order). The leases are a few rows an organization, hashed once (NOT IN a hashed subplan) and the
        // own claims a jsonb lookup: both filters on the primary key's scan, in order, which stops at the
        // limit (a NOT EXISTS became a hash anti join over the whole queue and a sort). Nothing is written to
        // the claimed events (no row version, no index entry): one lease row an organization is.
        `WITH picked AS (
           SELECT w.seq, w.id, w.organization_id, w.payload, w.receipt_id, w.enqueued_at FROM ingest_queue w
            WHERE w.organization_id NOT IN (
                    SELECT l.organization_id FROM ingest_leases l
                     WHERE (l.organization_id, l.lease) NOT IN (SELECT o, e FROM unnest($3::text[], $5::timestamptz[]) AS u(o, e)))
              AND w.seq > coalesce(($4::jsonb ->> w.organization_id)::bigint, 0)
            ORDER BY w.seq LIMIT $2
         ), leased AS (
           INSERT INTO ingest_leases (organization_id, lease, last_seq)
           SELECT p.organization_id, $1::timestamptz, max(p.seq) FROM picked p GROUP BY p.organization_id
         )
         SELECT seq, id, organization_id, payload, receipt_id, enqueued_at FROM picked`,
        [until, max, ownOrganizations, JSON.stringify(taken), ownLeases],
      )) as ClaimedRow[];
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
    // Sorted by seq: each organization's last one is its newest.
    const last = new Map(rows.map((r) => [r.organization_id, r.seq]));
    const batch: ClaimedBatch = {
      messages,
      lease: until,
      // Joins the ambient transaction when there is one (the drainer's ledger transaction): the events and
      // this claim's leases of their organizations go together (`some` holds whole organizations: the
      // drainer's lanes split a batch by organization). When this lease ran out and a later claim deleted
      // it (its events may be claimed again), the ack throws, so the ledger transaction it joins rolls back
      // instead of recording the batch a second time (its refused events would be kept twice: a refusal
      // holds no idempotency key).
      ack: async (some?: IngestMessage[]) => {
        const acked = some ?? messages;
        const gone = some ? some.map((m) => seqOf.get(m)!) : seqs;
        const organizations = [...new Set(acked.map((m) => m.input.organizationId))];
        const [{ leases, n }] = (await this.tx.manager.query(
          `WITH lease AS (DELETE FROM ingest_leases WHERE lease = $2::timestamptz AND organization_id = ANY($3::text[]) RETURNING 1),
                gone AS (DELETE FROM ingest_queue WHERE seq = ANY($1::bigint[]) RETURNING 1)
           SELECT (SELECT count(*) FROM lease)::int AS leases, (SELECT count(*) FROM gone)::int AS n`,
          [gone, until, organizations],
        )) as Array<{ leases: number; n: number }>;
        if (leases !== organizations.length || n !== gone.length) throw new Error(`Ingest claim lost: its lease ran out and was deleted by a later claim (${leases} of ${organizations.length} organizations' leases, ${n} of ${gone.length} events left)`);
      },
      nack: async () => {
        // Only this claim's organizations: another claim's lease may carry the same end (see leaseEnd).
        await this.tx.manager.query(`DELETE FROM ingest_leases WHERE lease = $1::timestamptz AND organization_id = ANY($2::text[])`, [until, [...last.keys()]]);
      },
    };
    this.lastSeqs.set(batch, last);
    return batch;
  }

  /** The queue itself, not its totals: a flush or a shutdown never waits on a count that drifted (a restore with its triggers off). */
  override async empty(): Promise<boolean> {
    const [row] = (await this.tx.manager.query(`SELECT NOT EXISTS (SELECT 1 FROM ingest_queue) AS empty`)) as Array<{ empty: boolean }>;
    return row.empty;
  }

  async lag(): Promise<IngestLag> {
    // The ambient transaction's connection when one is open (the embedded database is one session).
    // The size from the totals the queue's trigger keeps (64 rows: counting the queue took 150 ms a million
    // events, up to four times a second an instance). The oldest among the first 1,000 events by seq (the
    // primary key's order): seq is taken at the insert and enqueued_at at the acceptance, so a group commit or
    // another instance may store an older event a few rows after a newer one (rows, not a thousand).
    const [row] = (await this.tx.manager.query(
      `SELECT (SELECT coalesce(sum(messages), 0) FROM ingest_queue_totals)::bigint AS n, (SELECT coalesce(sum(bytes), 0) FROM ingest_queue_totals)::bigint AS bytes,
              (SELECT min(f.enqueued_at) FROM (SELECT enqueued_at FROM ingest_queue ORDER BY seq LIMIT 1000) AS f) AS oldest`,
    )) as Array<{ n: string; bytes: string; oldest: Date | null }>;
    const oldest = row.oldest ? Math.max(0, this.clock.now().getTime() - new Date(row.oldest).getTime()) : 0;
    return { waiting: Number(row.n), waitingBytes: Number(row.bytes), oldestAgeMs: oldest };
  }
}

/**
 * A claim's lease end as it is stored: microseconds drawn at random below the clock's milliseconds, so two
 * claims made in the same millisecond (two instances, or clocks apart) seldom share it (1 in 1,000). A lease
 * row is a claim's by its organization and this value together: a claim continues, acknowledges and releases
 * only the organizations it took, so a shared value never makes another drainer's lease its own.
 */
function leaseEnd(at: Date): string {
  return `${at.toISOString().slice(0, 23)}${String(randomInt(1000)).padStart(3, '0')}Z`;
}

/** A message's size as stored (its JSON), the unit of INGEST_MAX_BYTES. */
export function byteSize(m: IngestMessage): number {
  return Buffer.byteLength(JSON.stringify(m.input));
}
