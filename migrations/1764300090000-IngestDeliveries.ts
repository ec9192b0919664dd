import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `ingest_deliveries`: the stored messages of a JetStream ingest queue whose events a ledger transaction has
 * written, by delivery id (stream, stream sequence, store time: the same on every redelivery of one message,
 * never shared by two messages). On JetStream the acknowledgement cannot join the ledger transaction, so a
 * crash between the commit and the acknowledgement, or a lease that ran out under a slow write, delivers a
 * batch again: its row here makes the second write a no-op (no receipt counted twice, no refusal kept twice).
 * A row is removed once its message's acknowledgement is confirmed; rows older than a day are swept.
 */
export class IngestDeliveries1764300090000 implements MigrationInterface {
  name = 'IngestDeliveries1764300090000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE ingest_deliveries (id text PRIMARY KEY, applied_at timestamptz NOT NULL)`);
    await queryRunner.query(`CREATE INDEX ingest_deliveries_applied_at ON ingest_deliveries (applied_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ingest_deliveries`);
  }
}
