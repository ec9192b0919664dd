import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which organization API key made each accepted event (the usage page's "usage per API key"; budgets per key
 * already decide on it). Null for events tracked with the admin key, and for events recorded before this
 * column existed: the page reports those as not attributed rather than guessing. No index of its own: the
 * per-key statement reads one organization's period through the (organization_id, occurred_at) one.
 */
export class UsageEventsApiKey1764300012000 implements MigrationInterface {
  name = 'UsageEventsApiKey1764300012000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE usage_events ADD COLUMN api_key_id text`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE usage_events DROP COLUMN api_key_id`);
  }
}
