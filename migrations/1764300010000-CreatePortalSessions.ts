import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Customer portal links: short-lived, read-only tokens for one organization's usage page. Only the SHA-256
 * of a token is stored (hex), like API keys; the token is in the creation answer only.
 *
 * `token_hash` has a plain index, not a UNIQUE one, for the reason api_keys has (Citus: a unique index
 * must lead with organization_id); uniqueness comes from the token's 256 random bits.
 */
export class CreatePortalSessions1764300010000 implements MigrationInterface {
  name = 'CreatePortalSessions1764300010000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE portal_sessions (
        organization_id text NOT NULL REFERENCES organizations (id),
        id              uuid NOT NULL,
        token_hash      text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
        created_by      text NOT NULL,
        created_at      timestamptz NOT NULL,
        expires_at      timestamptz NOT NULL,
        CHECK (expires_at > created_at),
        PRIMARY KEY (organization_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX portal_sessions_token_hash_idx ON portal_sessions (token_hash)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE portal_sessions`);
  }
}
