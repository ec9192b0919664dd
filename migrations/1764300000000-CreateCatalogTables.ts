import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Event and plan definitions (SPEC section 2) and their immutable version history (section 6).
 * A definition's content is one validated JSON document (`config`); the columns that queries filter and
 * sort on are kept beside it. `version` is the number tracking stamps on every event it prices.
 */
export class CreateCatalogTables1764300000000 implements MigrationInterface {
  name = 'CreateCatalogTables1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE event_definitions (
        event_type  text PRIMARY KEY CHECK (event_type ~ '^[a-z][a-z0-9_]{1,63}$'),
        category    text NOT NULL,
        is_active   boolean NOT NULL DEFAULT true,
        version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
        config      jsonb NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX event_definitions_category_idx ON event_definitions (category)`);
    await queryRunner.query(`
      CREATE TABLE plan_definitions (
        name          text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{1,63}$'),
        is_active     boolean NOT NULL DEFAULT true,
        sort_order    integer NOT NULL DEFAULT 0,
        monthly_price numeric(12,2) NOT NULL CHECK (monthly_price >= 0),
        version       integer NOT NULL DEFAULT 1 CHECK (version >= 1),
        config        jsonb NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE definition_versions (
        kind        text NOT NULL CHECK (kind IN ('event', 'plan')),
        key         text NOT NULL,
        version     integer NOT NULL,
        action      text NOT NULL,
        actor       text NOT NULL,
        is_active   boolean NOT NULL,
        before      jsonb,
        after       jsonb NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, key, version)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE definition_versions`);
    await queryRunner.query(`DROP TABLE plan_definitions`);
    await queryRunner.query(`DROP TABLE event_definitions`);
  }
}
