import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Organization API keys. Only the SHA-256 of a key is stored (hex); the key itself is shown once.
 *
 * `key_hash` has a plain index, not a UNIQUE one: on Citus a unique index must lead with organization_id,
 * and a key arrives without its organization. Uniqueness comes from the key's 256 random bits.
 */
export class CreateApiKeys1764300002000 implements MigrationInterface {
  name = 'CreateApiKeys1764300002000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE api_keys (
        organization_id text NOT NULL REFERENCES organizations (id),
        id              uuid NOT NULL,
        name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        key_prefix      text NOT NULL,
        key_hash        text NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
        scopes          text[] NOT NULL CHECK (cardinality(scopes) >= 1 AND scopes <@ ARRAY['track', 'read', 'manage']::text[]),
        created_by      text NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        last_used_at    timestamptz,
        revoked_at      timestamptz,
        PRIMARY KEY (organization_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX api_keys_key_hash_idx ON api_keys (key_hash)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE api_keys`);
  }
}
