import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface BudgetRow {
  organization_id: string;
  id: string;
  scope: 'apiKey' | 'user';
  subject: string;
  subject_name: string | null;
  period: 'month' | 'day';
  credits: string;
  created_at: Date;
  updated_at: Date;
  /** Use in the window asked for (0 when nothing was charged there yet). */
  used: string;
}

const WITH_USED = `b.organization_id, b.id, b.scope, b.subject, b.period, b.credits::text AS credits, b.created_at, b.updated_at,
  CASE WHEN b.scope = 'apiKey' THEN (SELECT k.name FROM api_keys k WHERE k.organization_id = b.organization_id AND k.id::text = b.subject) END AS subject_name,
  coalesce((SELECT u.used FROM budget_usage u WHERE u.organization_id = b.organization_id AND u.budget_id = b.id
             AND u.window_start = CASE WHEN b.period = 'day' THEN $2::date ELSE $3::date END), 0)::text AS used`;

/**
 * SQL of budgets. Only their limits are written here: their use (budget_usage) is written by the debit
 * (consume_credits_many) and its refund, under the balance row lock.
 */
@Injectable()
export class BudgetsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Inserts a budget; undefined when the organization already has one for that scope, subject and period. */
  async insert(row: { organizationId: string; id: string; scope: string; subject: string; period: string; credits: string; now: Date }): Promise<boolean> {
    const rows = (await this.dataSource.query(
      `INSERT INTO budgets (organization_id, id, scope, subject, period, credits, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, $7) ON CONFLICT (organization_id, scope, subject, period) DO NOTHING RETURNING id`,
      [row.organizationId, row.id, row.scope, row.subject, row.period, row.credits, row.now],
    )) as unknown[];
    return rows.length === 1;
  }

  /** Budgets with their use in the windows that contain `day` (daily) and `month` (monthly). */
  async list(organizationId: string, day: string, month: string): Promise<BudgetRow[]> {
    return (await this.dataSource.query(`SELECT ${WITH_USED} FROM budgets b WHERE b.organization_id = $1 ORDER BY b.created_at, b.scope, b.subject, b.period`, [organizationId, day, month])) as BudgetRow[];
  }

  async find(organizationId: string, id: string, day: string, month: string): Promise<BudgetRow | undefined> {
    const rows = (await this.dataSource.query(`SELECT ${WITH_USED} FROM budgets b WHERE b.organization_id = $1 AND b.id::text = $4`, [organizationId, day, month, id])) as BudgetRow[];
    return rows[0];
  }

  async updateCredits(organizationId: string, id: string, credits: string, now: Date): Promise<boolean> {
    const [, count] = (await this.dataSource.query(`UPDATE budgets SET credits = $3::numeric, updated_at = $4 WHERE organization_id = $1 AND id::text = $2`, [organizationId, id, credits, now])) as [unknown, number];
    return count === 1;
  }

  /** Deletes a budget and its windows in one statement. */
  async delete(organizationId: string, id: string): Promise<boolean> {
    const rows = (await this.dataSource.query(
      `WITH gone AS (DELETE FROM budgets WHERE organization_id = $1 AND id::text = $2 RETURNING id),
            windows AS (DELETE FROM budget_usage u USING gone WHERE u.organization_id = $1 AND u.budget_id = gone.id RETURNING 1)
       SELECT (SELECT count(*) FROM gone)::int AS n, (SELECT count(*) FROM windows)::int AS w`,
      [organizationId, id],
    )) as Array<{ n: number }>;
    return rows[0].n === 1;
  }

  /** The member an API key belongs to (null for a key of no member, or no such key). */
  async apiKeyMember(organizationId: string, apiKeyId: string): Promise<string | null> {
    const rows = (await this.dataSource.query(`SELECT user_id FROM api_keys WHERE organization_id = $1 AND id::text = $2`, [organizationId, apiKeyId])) as Array<{ user_id: string | null }>;
    return rows[0]?.user_id ?? null;
  }

  /** True when the organization has an API key of that id (revoked ones too: their budgets still read). */
  async apiKeyExists(organizationId: string, id: string): Promise<boolean> {
    const rows = (await this.dataSource.query(`SELECT 1 FROM api_keys WHERE organization_id = $1 AND id::text = $2`, [organizationId, id])) as unknown[];
    return rows.length === 1;
  }
}
