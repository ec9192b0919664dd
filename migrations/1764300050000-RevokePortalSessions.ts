import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Portal links can be revoked (one, or every link of an organization): `revoked_at` is set once, by a
 * conditional UPDATE, and the token lookup (an indexed read on every request, never cached) skips revoked
 * rows, so a revocation holds on every instance from its commit on.
 */
export class RevokePortalSessions1764300050000 implements MigrationInterface {
  name = 'RevokePortalSessions1764300050000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE portal_sessions ADD COLUMN revoked_at timestamptz, ADD COLUMN revoked_by text`);
    await queryRunner.query(`ALTER TABLE portal_sessions ADD CONSTRAINT portal_sessions_revoked_by_check CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE portal_sessions DROP CONSTRAINT portal_sessions_revoked_by_check, DROP COLUMN revoked_by, DROP COLUMN revoked_at`);
  }
}
