import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `ingest_leases`: the PostgreSQL ingest queue's claims, one row per claim and organization, instead of a
 * lease written on every claimed queue row. A claim used to rewrite each of its rows (`claimed_until`: a new
 * row version and two index entries an event, then the ack's DELETE) and was the largest statement of the
 * drain (bench/README.md, "Drain: claims as leases"); now it reads the waiting rows and inserts a row here
 * per organization it took: `lease` is the claim's identity (its lease end, unique to the claim) and
 * `last_seq` the newest event of that organization it took. A live lease holds its organization against
 * every other claim; the claim's own later claims continue after `last_seq`. The ack deletes the lease with
 * the events, in the ledger transaction; a lease that ran out is deleted by the next claim, whose events are
 * then claimable again (delivered again, charged once).
 *
 * `claimed_until` goes: an instance of the previous version still running during a rolling deploy then fails
 * its claims and acks (and writes nothing) instead of claiming rows this version's leases hold.
 */
export class IngestLeases1764300140000 implements MigrationInterface {
  name = 'IngestLeases1764300140000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE ingest_leases (
      organization_id text NOT NULL,
      lease timestamptz NOT NULL,
      last_seq bigint NOT NULL,
      PRIMARY KEY (organization_id, lease)
    )`);
    await queryRunner.query(`DROP INDEX ingest_queue_claimed`);
    await queryRunner.query(`ALTER TABLE ingest_queue DROP COLUMN claimed_until`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Claims held as leases are dropped: their events are claimable again at once (delivered again, charged once).
    await queryRunner.query(`ALTER TABLE ingest_queue ADD COLUMN claimed_until timestamptz`);
    await queryRunner.query(`CREATE INDEX ingest_queue_claimed ON ingest_queue (organization_id, claimed_until) WHERE claimed_until IS NOT NULL`);
    await queryRunner.query(`DROP TABLE ingest_leases`);
  }
}
