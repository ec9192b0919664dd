import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface PortalSessionRow {
  organization_id: string;
  id: string;
  token_hash: string;
  expires_at: Date;
}

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

  /** The unexpired session of a token hash at `now` (the injected clock's, so tests move time). */
  async findUnexpired(tokenHash: string, now: Date): Promise<PortalSessionRow | undefined> {
    const rows = (await this.dataSource.query(
      `SELECT organization_id, id, token_hash, expires_at FROM portal_sessions WHERE token_hash = $1 AND expires_at > $2`,
      [tokenHash, now],
    )) as PortalSessionRow[];
    return rows[0];
  }
}
