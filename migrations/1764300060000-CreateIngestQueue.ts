import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Durable asynchronous ingestion on PostgreSQL (the ingest module owns both tables).
 *
 * `ingest_queue`: an event answered as accepted is a committed row here before the answer; a drainer on any
 * instance claims rows (`FOR UPDATE SKIP LOCKED`, a lease in `claimed_until`), writes them to the ledger and
 * deletes them in that same ledger transaction. `seq` is the order of acceptance (claims take the oldest
 * first). The partial index finds the organizations being drained right now: a claim never takes an
 * organization another drainer holds, so an organization's events are decided in the order they came.
 *
 * `ingest_receipts`: an asynchronous batch's receipt. `keys` are its events' idempotency keys in batch order
 * (a refusal is reported with its index), the counts grow in the ledger transactions that write its events.
 */
export class CreateIngestQueue1764300060000 implements MigrationInterface {
  name = 'CreateIngestQueue1764300060000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE ingest_queue (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      id text NOT NULL,
      organization_id text NOT NULL,
      receipt_id uuid,
      payload jsonb NOT NULL,
      bytes integer NOT NULL,
      enqueued_at timestamptz NOT NULL,
      claimed_until timestamptz
    )`);
    await queryRunner.query(`CREATE INDEX ingest_queue_claimed ON ingest_queue (organization_id, claimed_until) WHERE claimed_until IS NOT NULL`);
    await queryRunner.query(`CREATE TABLE ingest_receipts (
      id uuid PRIMARY KEY,
      organization_id text NOT NULL,
      total integer NOT NULL,
      keys jsonb NOT NULL,
      accepted integer NOT NULL DEFAULT 0,
      duplicates integer NOT NULL DEFAULT 0,
      refused integer NOT NULL DEFAULT 0,
      refusals jsonb NOT NULL DEFAULT '[]'::jsonb,
      created_at timestamptz NOT NULL,
      applied_at timestamptz
    )`);
    await queryRunner.query(`CREATE INDEX ingest_receipts_organization ON ingest_receipts (organization_id, created_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ingest_receipts`);
    await queryRunner.query(`DROP TABLE ingest_queue`);
  }
}
