import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The member an organization API key belongs to (optional, set when the key is created): a key may not
 * create, change or delete a budget on that member, as it may not on itself, or a key with the manage scope
 * would lift the limit that applies to it. Null for a key of no member (every key before this column).
 */
export class ApiKeyMember1764300041000 implements MigrationInterface {
  name = 'ApiKeyMember1764300041000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE api_keys ADD COLUMN user_id text CHECK (length(user_id) BETWEEN 1 AND 128)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE api_keys DROP COLUMN user_id`);
  }
}
