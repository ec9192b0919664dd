import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface RunRow {
  organization_id: string;
  id: string;
  parent_id: string | null;
  path: string[];
  label: string | null;
  /** numeric as pg gives it; null: no budget of its own. */
  budget: string | null;
  /** What the run and its descendants have debited, holds included (what the budget counts). */
  used: string;
  status: 'open' | 'closed';
  expires_at: Date | null;
  created_at: Date;
  closed_at: Date | null;
  request_hash: string | null;
}

export interface NewRun {
  organizationId: string;
  id: string;
  parentId: string | null;
  path: string[];
  label: string | null;
  budget: string | null;
  expiresAt: Date | null;
  now: Date;
  idempotencyKey: string | null;
  requestHash: string | null;
}

const COLUMNS = `organization_id, id, parent_id, path::text[] AS path, label, budget::text AS budget, used::text AS used, status, expires_at, created_at, closed_at, request_hash`;

/**
 * SQL of runs. The run rows are created and closed here; their `used` is written only by the debit
 * (consume_credits_many) and the refund (refund_credits), under the run rows' locks, never here. What a run
 * spent and holds is read from the ledger (usage_events, reservations: read only).
 */
@Injectable()
export class RunsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Inserts a run; false when its Idempotency-Key is taken (the caller reads the run that holds it). */
  async insert(r: NewRun): Promise<boolean> {
    const rows = (await this.dataSource.query(
      `INSERT INTO runs (organization_id, id, parent_id, path, label, budget, expires_at, created_at, idempotency_key, request_hash)
       VALUES ($1, $2, $3, $4::uuid[], $5, $6::numeric, $7, $8, $9, $10)
       ON CONFLICT (organization_id, idempotency_key) DO NOTHING RETURNING id`,
      [r.organizationId, r.id, r.parentId, r.path, r.label, r.budget, r.expiresAt, r.now, r.idempotencyKey, r.requestHash],
    )) as unknown[];
    return rows.length === 1;
  }

  async find(organizationId: string, id: string): Promise<RunRow | undefined> {
    const rows = (await this.dataSource.query(`SELECT ${COLUMNS} FROM runs WHERE organization_id = $1 AND id = $2`, [organizationId, id])) as RunRow[];
    return rows[0];
  }

  async findByKey(organizationId: string, key: string): Promise<RunRow | undefined> {
    const rows = (await this.dataSource.query(`SELECT ${COLUMNS} FROM runs WHERE organization_id = $1 AND idempotency_key = $2`, [organizationId, key])) as RunRow[];
    return rows[0];
  }

  /** The run's ancestors, root first (without the run). */
  async ancestors(organizationId: string, path: string[]): Promise<RunRow[]> {
    return (await this.dataSource.query(`SELECT ${COLUMNS} FROM runs WHERE organization_id = $1 AND id = ANY ($2::uuid[]) ORDER BY array_length(path, 1)`, [organizationId, path.slice(0, -1)])) as RunRow[];
  }

  async children(organizationId: string, id: string): Promise<RunRow[]> {
    return (await this.dataSource.query(`SELECT ${COLUMNS} FROM runs WHERE organization_id = $1 AND parent_id = $2 ORDER BY created_at, id`, [organizationId, id])) as RunRow[];
  }

  /**
   * Closes the run and every descendant that is still open. The rows are locked in id order first, the
   * order a debit locks them in, so a close racing debits waits for them (or they for it), never deadlocks;
   * a debit that comes after sees the run closed.
   */
  async close(organizationId: string, id: string, now: Date): Promise<void> {
    await this.dataSource.query(
      `WITH locked AS (
         SELECT id FROM runs WHERE organization_id = $1 AND path @> ARRAY[$2::uuid] ORDER BY id FOR NO KEY UPDATE)
       UPDATE runs r SET status = 'closed', closed_at = $3
         FROM locked l WHERE r.organization_id = $1 AND r.id = l.id AND r.status = 'open'`,
      [organizationId, id, now],
    );
  }

  /** The pending holds charged to the run or a descendant (what closing it gives back). */
  async pendingHolds(organizationId: string, id: string): Promise<string[]> {
    const rows = (await this.dataSource.query(
      `SELECT r.id FROM reservations r
        WHERE r.organization_id = $1 AND r.status = 'pending'
          AND r.run_id IN (SELECT s.id FROM runs s WHERE s.organization_id = $1 AND s.path @> ARRAY[$2::uuid])
        ORDER BY r.id`,
      [organizationId, id],
    )) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  /**
   * Spent (accepted events) and held (pending holds) by each of these runs' subtrees, in one statement.
   * Both sums are read in one snapshot, so spent + held equals the runs' `used` at that instant.
   */
  async totals(organizationId: string, ids: string[]): Promise<Map<string, { spent: string; held: string }>> {
    if (ids.length === 0) return new Map();
    const rows = (await this.dataSource.query(
      `SELECT t.id::text AS id,
              coalesce((SELECT sum(e.credits) FROM usage_events e
                         WHERE e.organization_id = $1 AND e.run_id IN (SELECT s.id FROM runs s WHERE s.organization_id = $1 AND s.path @> ARRAY[t.id])), 0)::text AS spent,
              coalesce((SELECT sum(r.credits) FROM reservations r
                         WHERE r.organization_id = $1 AND r.status = 'pending'
                           AND r.run_id IN (SELECT s.id FROM runs s WHERE s.organization_id = $1 AND s.path @> ARRAY[t.id])), 0)::text AS held
         FROM unnest($2::uuid[]) AS t(id)`,
      [organizationId, ids],
    )) as Array<{ id: string; spent: string; held: string }>;
    return new Map(rows.map((r) => [r.id, { spent: r.spent, held: r.held }]));
  }

  /** The run's own events by type: how many, their credits, and the priced units they named (summed per unit). */
  async items(organizationId: string, id: string): Promise<Array<{ event_type: string; events: string; credits: string; units: Record<string, string> | null }>> {
    return (await this.dataSource.query(
      `SELECT e.event_type, count(*)::text AS events, sum(e.credits)::text AS credits,
              (SELECT jsonb_object_agg(u.unit, u.quantity::text) FROM (
                 SELECT q.key AS unit, sum((q.value->>'quantity')::numeric) AS quantity
                   FROM usage_events e2, jsonb_each(coalesce(e2.breakdown->'units', '{}'::jsonb)) AS q
                  WHERE e2.organization_id = $1 AND e2.run_id = $2 AND e2.event_type = e.event_type
                  GROUP BY q.key) u) AS units
         FROM usage_events e
        WHERE e.organization_id = $1 AND e.run_id = $2
        GROUP BY e.event_type ORDER BY e.event_type`,
      [organizationId, id],
    )) as Array<{ event_type: string; events: string; credits: string; units: Record<string, string> | null }>;
  }

  /**
   * A page of runs newest first (created_at, then id): the top-level ones, or the children of `parentId`.
   * `before`: the last run of the previous page. Status here is the row's own (the caller decides expiry
   * and closed ancestors, as the debit does).
   */
  async page(organizationId: string, parentId: string | null, limit: number, before: string | null): Promise<RunRow[]> {
    return (await this.dataSource.query(
      `SELECT ${COLUMNS} FROM runs r
        WHERE r.organization_id = $1 AND r.parent_id IS NOT DISTINCT FROM $2::uuid
          AND ($4::uuid IS NULL OR (r.created_at, r.id) < (SELECT b.created_at, b.id FROM runs b WHERE b.organization_id = $1 AND b.id = $4::uuid))
        ORDER BY r.created_at DESC, r.id DESC LIMIT $3`,
      [organizationId, parentId, limit, before],
    )) as RunRow[];
  }

  /** How many children each of these runs has. */
  async childCounts(organizationId: string, ids: string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const rows = (await this.dataSource.query(
      `SELECT parent_id::text AS id, count(*)::int AS n FROM runs WHERE organization_id = $1 AND parent_id = ANY($2::uuid[]) GROUP BY parent_id`,
      [organizationId, ids],
    )) as Array<{ id: string; n: number }>;
    return new Map(rows.map((r) => [r.id, r.n]));
  }
}
