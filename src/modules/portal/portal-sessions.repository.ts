import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface PortalSessionRow {
  organization_id: string;
  id: string;
  token_hash: string;
  expires_at: Date;
}

/** A link as an operator sees it (never its hash). */
export interface PortalSessionRecord {
  organization_id: string;
  id: string;
  created_by: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_by: string | null;
}

const RECORD_COLUMNS = 'organization_id, id, created_by, created_at, expires_at, revoked_at, revoked_by';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Data access for `portal_sessions`. Every statement names the organization, except the lookup by hash. */
@Injectable()
export class PortalSessionsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(row: PortalSessionRow & { created_by: string; created_at: Date }): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO portal_sessions (organization_id, id, token_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [row.organization_id, row.id, row.token_hash, row.created_by, row.created_at, row.expires_at],
    );
  }

  /**
   * The unexpired, unrevoked session of a token hash at `now` (the injected clock's, so tests move time).
   * Read from the database on every request: a revocation committed by any instance holds here at once.
   */
  async findUnexpired(tokenHash: string, now: Date): Promise<PortalSessionRow | undefined> {
    const rows = (await this.dataSource.query(
      `SELECT organization_id, id, token_hash, expires_at FROM portal_sessions WHERE token_hash = $1 AND expires_at > $2 AND revoked_at IS NULL`,
      [tokenHash, now],
    )) as PortalSessionRow[];
    return rows[0];
  }

  async find(organizationId: string, id: string): Promise<PortalSessionRecord | undefined> {
    if (!UUID.test(id)) return undefined; // not a link id at all: no cast error from the database
    const rows = (await this.dataSource.query(`SELECT ${RECORD_COLUMNS} FROM portal_sessions WHERE organization_id = $1 AND id = $2`, [organizationId, id])) as PortalSessionRecord[];
    return rows[0];
  }

  /**
   * Revokes one link. Conditional on `revoked_at IS NULL`: two concurrent revocations (or a replay) record
   * the first time and actor only.
   */
  async revoke(organizationId: string, id: string, now: Date, actor: string): Promise<void> {
    if (!UUID.test(id)) return;
    await this.dataSource.query(`UPDATE portal_sessions SET revoked_at = $3, revoked_by = $4 WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL`, [organizationId, id, now, actor]);
  }

  /**
   * Revokes every link of the organization that still works at `now`, in one statement (a link created
   * concurrently either is in it or was committed after it, and then a later call revokes it). Returns how
   * many were revoked.
   */
  async revokeAll(organizationId: string, now: Date, actor: string): Promise<number> {
    const [, affected] = (await this.dataSource.query(
      `UPDATE portal_sessions SET revoked_at = $2, revoked_by = $3 WHERE organization_id = $1 AND revoked_at IS NULL AND expires_at > $2`,
      [organizationId, now, actor],
    )) as [unknown, number];
    return affected;
  }
}
