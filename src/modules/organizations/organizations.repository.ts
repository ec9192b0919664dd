import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../common/database/transaction-host';
import type { OrganizationRow } from './organizations.types';

export const ORG_COLUMNS = 'id, name, plan_name, billing_cycle, spend_cap, webhook_url, pending_plan, pending_plan_from, created_at, updated_at';

/** An organization of the operators' list, with its current period's balance and open top-ups joined. */
export type OrganizationListRow = OrganizationRow & {
  pb_allowance: string | null;
  pb_allowance_used: string | null;
  pb_consumed: string | null;
  pb_overage: string | null;
  open_top_ups: string;
};

/** The editable columns of an organization (a value of `null` clears the column). */
export interface OrganizationChanges {
  name?: string;
  billingCycle?: string;
  spendCap?: string | null;
  webhookUrl?: string | null;
}

/**
 * The SQL of the organizations module, which owns `organizations`, `organization_plans` (the plan history
 * the debit reads) and `organization_members`: nothing else writes them. Every method runs in the ambient
 * transaction when one is open.
 */
@Injectable()
export class OrganizationsRepository {
  constructor(private readonly tx: TransactionHost) {}

  async find(id: string): Promise<OrganizationRow | undefined> {
    const [row] = (await this.tx.manager.query(`SELECT ${ORG_COLUMNS} FROM organizations WHERE id = $1`, [id])) as OrganizationRow[];
    return row;
  }

  /** The plan name under the organization's row lock (FOR UPDATE): membership changes are serialized by it. */
  async lockPlanName(id: string): Promise<string | undefined> {
    const [row] = (await this.tx.manager.query(`SELECT plan_name FROM organizations WHERE id = $1 FOR UPDATE`, [id])) as Array<{ plan_name: string }>;
    return row?.plan_name;
  }

  /** A keyset page in id order (`after`: the previous page's last id), searched by id or name (an ILIKE pattern). */
  async listPage(limit: number, after: string | undefined, pattern: string | null, now: Date, periodStart: string): Promise<OrganizationListRow[]> {
    return (await this.tx.manager.query(
      `SELECT ${ORG_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')},
              pb.allowance AS pb_allowance, pb.allowance_used AS pb_allowance_used, pb.consumed AS pb_consumed, pb.overage_used AS pb_overage,
              (SELECT coalesce(sum(g.remaining), 0) FROM credit_grants g WHERE g.organization_id = o.id AND g.remaining > 0 AND (g.expires_at IS NULL OR g.expires_at > $4)) AS open_top_ups
         FROM organizations o
         LEFT JOIN period_balances pb ON pb.organization_id = o.id AND pb.period_start = $5::date
        WHERE ($1::text IS NULL OR o.id > $1) AND ($3::text IS NULL OR o.id ILIKE $3 OR o.name ILIKE $3)
        ORDER BY o.id LIMIT $2`,
      [after ?? null, limit, pattern, now, periodStart],
    )) as OrganizationListRow[];
  }

  /**
   * Creates the organization and the first entry of its plan history (in force for every period before any
   * change), in one statement; undefined when the id is taken.
   */
  async insert(row: { id: string; name: string; plan: string; billingCycle: string; spendCap: string | null; webhookUrl: string | null; webhookSecret: string; now: Date }): Promise<OrganizationRow | undefined> {
    const [created] = (await this.tx.manager.query(
      `WITH org AS (
         INSERT INTO organizations (id, name, plan_name, billing_cycle, spend_cap, webhook_url, webhook_secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (id) DO NOTHING RETURNING ${ORG_COLUMNS}),
       history AS (INSERT INTO organization_plans (organization_id, effective_from, plan_name, created_at) SELECT id, '-infinity', plan_name, created_at FROM org)
       SELECT * FROM org`,
      [row.id, row.name, row.plan, row.billingCycle, row.spendCap, row.webhookUrl, row.webhookSecret, row.now],
    )) as OrganizationRow[];
    return created;
  }

  async update(id: string, changes: OrganizationChanges, now: Date): Promise<OrganizationRow | undefined> {
    const sets: string[] = [];
    const values: unknown[] = [id];
    const set = (column: string, value: unknown) => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    };
    if (changes.name !== undefined) set('name', changes.name);
    if (changes.billingCycle !== undefined) set('billing_cycle', changes.billingCycle);
    if (changes.spendCap !== undefined) set('spend_cap', changes.spendCap);
    if (changes.webhookUrl !== undefined) set('webhook_url', changes.webhookUrl);
    set('updated_at', now);
    const [rows] = (await this.tx.manager.query(`UPDATE organizations SET ${sets.join(', ')} WHERE id = $1 RETURNING ${ORG_COLUMNS}`, values)) as [OrganizationRow[], number];
    return rows[0];
  }

  /**
   * A plan change from `from` on: in force at once (`now`) or pending until the next period, and an entry of
   * the plan history that replaces whatever was scheduled at or after its own start. Takes the organization
   * row lock first (the UPDATE), the lock the debit takes (FOR SHARE) before it creates a balance row.
   */
  async changePlan(id: string, plan: string, from: Date, effectiveNow: boolean, now: Date): Promise<void> {
    if (effectiveNow) {
      await this.tx.manager.query(`UPDATE organizations SET plan_name = $2, pending_plan = NULL, pending_plan_from = NULL, updated_at = $3 WHERE id = $1`, [id, plan, now]);
    } else {
      await this.tx.manager.query(`UPDATE organizations SET pending_plan = $2, pending_plan_from = $3, updated_at = $4 WHERE id = $1`, [id, plan, from, now]);
    }
    await this.tx.manager.query(`DELETE FROM organization_plans WHERE organization_id = $1 AND effective_from >= $2`, [id, from]);
    await this.tx.manager.query(`INSERT INTO organization_plans (organization_id, effective_from, plan_name, created_at) VALUES ($1, $2, $3, $4)`, [id, from, plan, now]);
  }

  /**
   * Makes pending plan changes due by `at` the organizations' plans (the period close does, for every
   * organization). Conditional on the change still being due: any number of concurrent callers apply it once.
   * The plan history already holds the change, so the debit never waited for this.
   */
  async applyDuePlanChanges(at: Date, now: Date): Promise<number> {
    const [, changed] = (await this.tx.manager.query(
      `UPDATE organizations SET plan_name = pending_plan, pending_plan = NULL, pending_plan_from = NULL, updated_at = $2
        WHERE pending_plan IS NOT NULL AND pending_plan_from <= $1`,
      [at, now],
    )) as [unknown, number];
    return changed;
  }

  async memberRole(id: string, userId: string): Promise<string | undefined> {
    const [row] = (await this.tx.manager.query(`SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2`, [id, userId])) as Array<{ role: string }>;
    return row?.role;
  }

  async countMembers(id: string): Promise<number> {
    const [{ n }] = (await this.tx.manager.query(`SELECT count(*)::int AS n FROM organization_members WHERE organization_id = $1`, [id])) as Array<{ n: number }>;
    return n;
  }

  async upsertMember(id: string, userId: string, role: string, now: Date): Promise<void> {
    await this.tx.manager.query(
      `INSERT INTO organization_members (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role`,
      [id, userId, role, now],
    );
  }

  async listMembers(id: string): Promise<Array<{ user_id: string; role: string; created_at: Date }>> {
    return (await this.tx.manager.query(`SELECT user_id, role, created_at FROM organization_members WHERE organization_id = $1 ORDER BY user_id`, [id])) as Array<{
      user_id: string;
      role: string;
      created_at: Date;
    }>;
  }

  /** False when the user was not a member. */
  async removeMember(id: string, userId: string): Promise<boolean> {
    const [, deleted] = (await this.tx.manager.query(`DELETE FROM organization_members WHERE organization_id = $1 AND user_id = $2`, [id, userId])) as [unknown, number];
    return deleted > 0;
  }
}
