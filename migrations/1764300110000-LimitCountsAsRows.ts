import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Count limits as data: a plan's `limits` may name any count (not only the three the schema knew), and an
 * event definition's `countsToward` names the counts it adds to. The counters leave `period_balances`
 * (`ai_calls`, `pdf_exports`, `sessions`, one column per known limit) for one row per (organization, period,
 * limit name) in `period_limit_counts`, so a new limit needs no column and no function rewrite.
 *
 * The rows are written only by the debit and the refund, both under the period's balance row lock (the rows
 * have no lock of their own to take, so no new lock order exists). The existing counters are copied exactly
 * (a zero is no row: a missing row reads as 0) and the old columns dropped: nothing reads them any more.
 * The functions that named the columns are replaced after the migrations from src/database/functions
 * (their arguments do not change, so no DROP is needed).
 */
export class LimitCountsAsRows1764300110000 implements MigrationInterface {
  name = 'LimitCountsAsRows1764300110000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS period_limit_counts (
        organization_id text NOT NULL,
        period_start    date NOT NULL,
        limit_name      text NOT NULL,
        used            bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (organization_id, period_start, limit_name),
        FOREIGN KEY (organization_id, period_start) REFERENCES period_balances (organization_id, period_start)
      )`);
    await queryRunner.query(`
      INSERT INTO period_limit_counts (organization_id, period_start, limit_name, used, updated_at)
      SELECT pb.organization_id, pb.period_start, c.name, c.used, pb.updated_at
        FROM period_balances pb
        CROSS JOIN LATERAL (VALUES ('aiCallsPerMonth', pb.ai_calls), ('pdfExportsPerMonth', pb.pdf_exports), ('sessionLimit', pb.sessions)) AS c(name, used)
       WHERE c.used <> 0
      ON CONFLICT (organization_id, period_start, limit_name) DO UPDATE SET used = EXCLUDED.used`);
    await queryRunner.query(`ALTER TABLE period_balances DROP COLUMN ai_calls, DROP COLUMN pdf_exports, DROP COLUMN sessions`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE period_balances ADD COLUMN ai_calls integer NOT NULL DEFAULT 0, ADD COLUMN pdf_exports integer NOT NULL DEFAULT 0, ADD COLUMN sessions integer NOT NULL DEFAULT 0`);
    await queryRunner.query(`
      UPDATE period_balances pb SET
        ai_calls = coalesce((SELECT c.used FROM period_limit_counts c WHERE c.organization_id = pb.organization_id AND c.period_start = pb.period_start AND c.limit_name = 'aiCallsPerMonth'), 0),
        pdf_exports = coalesce((SELECT c.used FROM period_limit_counts c WHERE c.organization_id = pb.organization_id AND c.period_start = pb.period_start AND c.limit_name = 'pdfExportsPerMonth'), 0),
        sessions = coalesce((SELECT c.used FROM period_limit_counts c WHERE c.organization_id = pb.organization_id AND c.period_start = pb.period_start AND c.limit_name = 'sessionLimit'), 0)`);
    await queryRunner.query(`DROP TABLE period_limit_counts`);
  }
}
