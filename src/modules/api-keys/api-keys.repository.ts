import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { ApiKeyScope } from '../../common/auth/auth.decorators';

export interface ApiKeyRow {
  organization_id: string;
  id: string;
  name: string;
  key_prefix: string;
  scopes: ApiKeyScope[];
  created_by: string;
  /** The member the key belongs to, if any. */
  user_id: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

/** What authentication needs of a key. */
export interface ApiKeyAuthRow {
  organization_id: string;
  id: string;
  key_hash: string;
  scopes: ApiKeyScope[];
}

const COLUMNS = 'organization_id, id, name, key_prefix, scopes, created_by, user_id, created_at, last_used_at, revoked_at';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Data access for `api_keys`. Every statement names the organization, except the lookup by hash. */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(row: Omit<ApiKeyRow, 'last_used_at' | 'revoked_at'> & { key_hash: string }): Promise<ApiKeyRow> {
    const rows = (await this.dataSource.query(
      `INSERT INTO api_keys (organization_id, id, name, key_prefix, key_hash, scopes, created_by, created_at, user_id)
       VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8, $9) RETURNING ${COLUMNS}`,
      [row.organization_id, row.id, row.name, row.key_prefix, row.key_hash, row.scopes, row.created_by, row.created_at, row.user_id],
    )) as ApiKeyRow[];
    return rows[0];
  }

  async list(organizationId: string): Promise<ApiKeyRow[]> {
    return (await this.dataSource.query(`SELECT ${COLUMNS} FROM api_keys WHERE organization_id = $1 ORDER BY created_at DESC, id`, [organizationId])) as ApiKeyRow[];
  }

  async find(organizationId: string, id: string): Promise<ApiKeyRow | undefined> {
    if (!UUID.test(id)) return undefined; // not a key id at all: no cast error from the database
    const rows = (await this.dataSource.query(`SELECT ${COLUMNS} FROM api_keys WHERE organization_id = $1 AND id = $2`, [organizationId, id])) as ApiKeyRow[];
    return rows[0];
  }

  /** The active key with this hash, if any. */
  async findActiveByHash(keyHash: string): Promise<ApiKeyAuthRow | undefined> {
    const rows = (await this.dataSource.query(
      `SELECT organization_id, id, key_hash, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL LIMIT 1`,
      [keyHash],
    )) as ApiKeyAuthRow[];
    return rows[0];
  }

  /**
   * Revokes an active key. Conditional on `revoked_at IS NULL`, so two concurrent revocations record one
   * time. Returns the key's hash (to evict it from the cache), or undefined when nothing was active.
   */
  async revoke(organizationId: string, id: string, now: Date): Promise<{ key_hash: string; revoked_at: Date } | undefined> {
    if (!UUID.test(id)) return undefined;
    const [rows] = (await this.dataSource.query(
      `UPDATE api_keys SET revoked_at = $3 WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING key_hash, revoked_at`,
      [organizationId, id, now],
    )) as [Array<{ key_hash: string; revoked_at: Date }>, number];
    return rows[0];
  }

  /** Records a use; skipped in SQL when a recent one is already recorded (another instance wrote it). */
  async touch(organizationId: string, id: string, now: Date, minIntervalSeconds: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE api_keys SET last_used_at = $3
        WHERE organization_id = $1 AND id = $2 AND (last_used_at IS NULL OR last_used_at < $3::timestamptz - make_interval(secs => $4))`,
      [organizationId, id, now, minIntervalSeconds],
    );
  }
}
