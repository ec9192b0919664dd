import { MigrationInterface, QueryRunner } from 'typeorm';
import { SQL_FUNCTIONS } from '../src/database/functions';

/**
 * `ingest_queue_totals`: the PostgreSQL ingest queue's size (messages, bytes) as 64 shard rows kept by a
 * statement trigger on `ingest_queue` (count_ingest_queue), so the lag is a read of 64 rows and the oldest
 * row by the primary key, not a count of the queue. The count was read by every instance up to four times a
 * second for the queue's bounds (a million waiting events: 150 ms a count on the benchmark machine, with
 * every accepting request of the instance waiting for it) and by /metrics, in exactly the backlog the bounds
 * are for. Created under the trigger's lock of the queue, then filled from it: exact from the start.
 */
export class IngestQueueTotals1764300160000 implements MigrationInterface {
  name = 'IngestQueueTotals1764300160000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE ingest_queue_totals (
      shard smallint PRIMARY KEY,
      messages bigint NOT NULL,
      bytes bigint NOT NULL
    )`);
    await queryRunner.query(`INSERT INTO ingest_queue_totals (shard, messages, bytes) SELECT g, 0, 0 FROM generate_series(0, 63) AS g`);
    await queryRunner.query(SQL_FUNCTIONS.count_ingest_queue);
    // CREATE TRIGGER locks the queue against writes until this migration commits: the count below is exact.
    // It waits for every open writer of the queue first, and appends queue behind it meanwhile: a session
    // left idle in a transaction fails this migration after 10 s (the next start runs it again) instead of
    // holding every append.
    await queryRunner.query(`SET LOCAL lock_timeout = '10s'`);
    await queryRunner.query(`CREATE TRIGGER ingest_queue_counted_insert AFTER INSERT ON ingest_queue REFERENCING NEW TABLE AS added_rows FOR EACH STATEMENT EXECUTE FUNCTION count_ingest_queue()`);
    await queryRunner.query(`CREATE TRIGGER ingest_queue_counted_delete AFTER DELETE ON ingest_queue REFERENCING OLD TABLE AS removed_rows FOR EACH STATEMENT EXECUTE FUNCTION count_ingest_queue()`);
    await queryRunner.query(`CREATE TRIGGER ingest_queue_counted_truncate AFTER TRUNCATE ON ingest_queue FOR EACH STATEMENT EXECUTE FUNCTION count_ingest_queue()`);
    await queryRunner.query(`UPDATE ingest_queue_totals t SET messages = x.n, bytes = x.b FROM (SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM ingest_queue) AS x WHERE t.shard = 0`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER ingest_queue_counted_truncate ON ingest_queue`);
    await queryRunner.query(`DROP TRIGGER ingest_queue_counted_delete ON ingest_queue`);
    await queryRunner.query(`DROP TRIGGER ingest_queue_counted_insert ON ingest_queue`);
    await queryRunner.query(`DROP FUNCTION count_ingest_queue()`);
    await queryRunner.query(`DROP TABLE ingest_queue_totals`);
  }
}
