import { grantsOverview } from './utils/grant-status';
import { periodUsage } from './utils/period-status';
import { creditsRemaining } from '../ledger/utils/credits-remaining';
import type { PeriodUsage } from './utils/period-status';
import { containsPattern } from './utils/search-pattern';
import { Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { TransactionHost } from '../../common/database/transaction-host';
import { Clock } from '../../common/clock/clock';
import { DomainError } from '../../common/errors/domain-error';
import { hundredthsFromDecimalString, hundredthsFromNumber, hundredthsOrZero, hundredthsToDecimalString, hundredthsToNumber } from '../../common/money/credits';
import { nextPeriod, periodOf } from '../../common/time/period';
import { CreditGrantsRepository } from '../ledger/credit-grants.repository';
import type { GrantRow } from '../ledger/credit-grants.repository';
import { PeriodBalancesRepository } from '../ledger/period-balances.repository';
import { PlanRegistry, PlanDefinitionRecord } from '../plans/plan-registry.service';
import { AddMemberDto, ChangePlanDto, CreateOrganizationDto, GrantCreditsDto, UpdateOrganizationDto } from './dto/organization.dto';

export interface OrganizationRow {
  id: string;
  name: string;
  plan_name: string;
  billing_cycle: 'monthly' | 'annual';
  spend_cap: string | null;
  webhook_url: string | null;
  pending_plan: string | null;
  pending_plan_from: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface Organization {
  id: string;
  name: string;
  plan: string;
  billingCycle: 'monthly' | 'annual';
  spendCap: number | null;
  webhookUrl: string | null;
  pendingPlan: { plan: string; effectiveFrom: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** An organization in the operators' list: with where it stands this period. */
export type OrganizationListItem = Organization & { usage: PeriodUsage };

const ORG_COLUMNS = 'id, name, plan_name, billing_cycle, spend_cap, webhook_url, pending_plan, pending_plan_from, created_at, updated_at';

export function toOrganization(row: OrganizationRow): Organization {
  return {
    id: row.id,
    name: row.name,
    plan: row.plan_name,
    billingCycle: row.billing_cycle,
    spendCap: row.spend_cap === null ? null : hundredthsToNumber(hundredthsFromDecimalString(row.spend_cap)),
    webhookUrl: row.webhook_url,
    pendingPlan: row.pending_plan && row.pending_plan_from ? { plan: row.pending_plan, effectiveFrom: new Date(row.pending_plan_from).toISOString() } : null,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

@Injectable()
export class OrganizationsService {
  private readonly known = new Set<string>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly tx: TransactionHost,
    private readonly plans: PlanRegistry,
    private readonly clock: Clock,
    private readonly grants: CreditGrantsRepository,
    private readonly balances: PeriodBalancesRepository,
  ) {}

  /** The organization row (in the ambient transaction when one is open), or 404 ORGANIZATION_NOT_FOUND. */
  async getRow(id: string): Promise<OrganizationRow> {
    const rows = (await this.tx.manager.query(`SELECT ${ORG_COLUMNS} FROM organizations WHERE id = $1`, [id])) as OrganizationRow[];
    if (!rows[0]) throw new DomainError('ORGANIZATION_NOT_FOUND', `Organization "${id}" does not exist`, { organizationId: id });
    return rows[0];
  }

  /**
   * 404 unless the organization exists. Organizations are never deleted, so a positive answer is kept in
   * memory and the hot path (asynchronous tracking) asks the database once per organization.
   */
  async assertExists(id: string): Promise<void> {
    if (this.known.has(id)) return;
    await this.getRow(id);
    if (this.known.size > 100_000) this.known.clear();
    this.known.add(id);
  }

  async get(id: string): Promise<Organization> {
    return toOrganization(await this.getRow(id));
  }

  /** A page of organizations in id order (keyset: `after` is the last id of the previous page), optionally searched. */
  /**
   * A page of organizations in id order, each with where it stands this period (used, remaining, status)
   * for the operators' list: the balance row and the open top-ups are joined in the same statement.
   */
  async list(limit = 100, after?: string, q?: string): Promise<{ items: OrganizationListItem[]; nextCursor: string | null }> {
    const now = this.clock.now();
    const rows = (await this.dataSource.query(
      `SELECT ${ORG_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')},
              pb.allowance AS pb_allowance, pb.allowance_used AS pb_allowance_used, pb.consumed AS pb_consumed, pb.overage_used AS pb_overage,
              (SELECT coalesce(sum(g.remaining), 0) FROM credit_grants g WHERE g.organization_id = o.id AND g.remaining > 0 AND (g.expires_at IS NULL OR g.expires_at > $4)) AS open_top_ups
         FROM organizations o
         LEFT JOIN period_balances pb ON pb.organization_id = o.id AND pb.period_start = $5::date
        WHERE ($1::text IS NULL OR o.id > $1) AND ($3::text IS NULL OR o.id ILIKE $3 OR o.name ILIKE $3)
        ORDER BY o.id LIMIT $2`,
      [after ?? null, limit + 1, q === undefined ? null : containsPattern(q), now, periodOf(now).start.toISOString().slice(0, 10)],
    )) as Array<OrganizationRow & { pb_allowance: string | null; pb_allowance_used: string | null; pb_consumed: string | null; pb_overage: string | null; open_top_ups: string }>;
    const page = rows.slice(0, limit);
    const items = await Promise.all(
      page.map(async (row) => {
        // Without a balance row the period has not been charged yet: the plan's allowance, nothing used.
        const plan = await this.plans.findOrThrow(row.plan_name);
        const usage = periodUsage({
          allowance: row.pb_allowance === null ? plan.config.monthlyCredits * 100 : hundredthsOrZero(row.pb_allowance),
          allowanceUsed: hundredthsOrZero(row.pb_allowance_used),
          consumed: hundredthsOrZero(row.pb_consumed),
          overage: hundredthsOrZero(row.pb_overage),
          openTopUps: hundredthsOrZero(row.open_top_ups),
          remaining: row.pb_allowance === null ? undefined : creditsRemaining(row.pb_allowance, row.pb_allowance_used ?? '0', row.open_top_ups ?? '0'),
          hardCap: plan.config.overageRate === null,
        });
        return { ...toOrganization(row), usage };
      }),
    );
    return { items, nextCursor: rows.length > limit ? page[page.length - 1].id : null };
  }

  private async activePlan(name: string): Promise<PlanDefinitionRecord> {
    const plan = await this.plans.findOrThrow(name);
    if (!plan.isActive) throw new DomainError('PLAN_INACTIVE', `Plan "${name}" is not active`, { plan: name });
    return plan;
  }

  /** Creates the organization with a webhook signing secret, returned here only. */
  async create(dto: CreateOrganizationDto): Promise<Organization & { webhookSecret: string }> {
    await this.activePlan(dto.plan);
    const secret = `whsec_${randomBytes(24).toString('base64url')}`;
    // The plan history starts with the plan it was created on, in force for every period before any change.
    const rows = (await this.dataSource.query(
      `WITH org AS (
         INSERT INTO organizations (id, name, plan_name, billing_cycle, spend_cap, webhook_url, webhook_secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (id) DO NOTHING RETURNING ${ORG_COLUMNS}),
       history AS (INSERT INTO organization_plans (organization_id, effective_from, plan_name, created_at) SELECT id, '-infinity', plan_name, created_at FROM org)
       SELECT * FROM org`,
      [dto.id, dto.name, dto.plan, dto.billingCycle ?? 'monthly', dto.spendCap === undefined ? null : hundredthsToDecimalString(hundredthsFromNumber(dto.spendCap)), dto.webhookUrl ?? null, secret, this.clock.now()],
    )) as OrganizationRow[];
    if (!rows[0]) throw new DomainError('ALREADY_EXISTS', `Organization "${dto.id}" already exists`, { organizationId: dto.id });
    return { ...toOrganization(rows[0]), webhookSecret: secret };
  }

  async update(id: string, dto: UpdateOrganizationDto): Promise<Organization> {
    await this.getRow(id);
    const sets: string[] = [];
    const values: unknown[] = [id];
    const set = (column: string, value: unknown) => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    };
    if (dto.name !== undefined) set('name', dto.name);
    if (dto.billingCycle !== undefined) set('billing_cycle', dto.billingCycle);
    if (dto.spendCap !== undefined) set('spend_cap', dto.spendCap === null ? null : hundredthsToDecimalString(hundredthsFromNumber(dto.spendCap)));
    if (dto.webhookUrl !== undefined) set('webhook_url', dto.webhookUrl);
    set('updated_at', this.clock.now());
    const rows = (await this.dataSource.query(`UPDATE organizations SET ${sets.join(', ')} WHERE id = $1 RETURNING ${ORG_COLUMNS}`, values)) as [OrganizationRow[], number];
    return toOrganization(rows[0][0]);
  }

  /**
   * `now`: the plan and the current period's allowance change at once; what was used stays used.
   * `next_period`: recorded as pending, in force from the next period start.
   *
   * Either way the change is an entry of the organization's plan history (`organization_plans`), which is
   * what the debit reads when it creates a period's balance row. Race-free by lock order: this takes the
   * organization row lock (the UPDATE) before it rewrites balance rows, and the debit takes the same row lock
   * (FOR SHARE) before it creates one; so an event either sees the change or the change sees its row.
   */
  async changePlan(id: string, dto: ChangePlanDto): Promise<Organization> {
    const plan = await this.activePlan(dto.plan);
    const now = this.clock.now();
    const effectiveNow = (dto.effective ?? 'now') === 'now';
    const from = effectiveNow ? now : nextPeriod(periodOf(now)).start;
    await this.tx.transaction(async () => {
      const manager = this.tx.manager;
      await this.getRow(id);
      if (effectiveNow) {
        await manager.query(`UPDATE organizations SET plan_name = $2, pending_plan = NULL, pending_plan_from = NULL, updated_at = $3 WHERE id = $1`, [id, plan.key, now]);
      } else {
        await manager.query(`UPDATE organizations SET pending_plan = $2, pending_plan_from = $3, updated_at = $4 WHERE id = $1`, [id, plan.key, from, now]);
      }
      // A change replaces whatever was scheduled at or after its own start.
      await manager.query(`DELETE FROM organization_plans WHERE organization_id = $1 AND effective_from >= $2`, [id, from]);
      await manager.query(`INSERT INTO organization_plans (organization_id, effective_from, plan_name, created_at) VALUES ($1, $2, $3, $4)`, [id, from, plan.key, now]);
      // Balance rows of the periods it governs (the current one for "now"; a next-period row that a
      // future-dated event created already), under their row locks, so in-flight debits are ordered.
      await this.balances.setPlanFrom(id, periodOf(from).start.toISOString().slice(0, 10), plan.key, String(plan.config.monthlyCredits), now);
    });
    return this.get(id);
  }

  /**
   * Applies a pending plan change whose time has come. Conditional on the pending row still being due, so
   * any number of concurrent callers apply it once.
   */
  async applyDuePlanChange(row: OrganizationRow, now: Date): Promise<OrganizationRow> {
    if (!row.pending_plan || !row.pending_plan_from || new Date(row.pending_plan_from) > now) return row;
    await this.dataSource.query(
      `UPDATE organizations SET plan_name = pending_plan, pending_plan = NULL, pending_plan_from = NULL, updated_at = $2
        WHERE id = $1 AND pending_plan IS NOT NULL AND pending_plan_from <= $2`,
      [row.id, now],
    );
    return this.getRow(row.id);
  }

  async grantCredits(id: string, dto: GrantCreditsDto, actor: string) {
    await this.getRow(id);
    const now = this.clock.now();
    if (dto.expiresAt !== undefined && new Date(dto.expiresAt) <= now) {
      throw new DomainError('VALIDATION_FAILED', 'expiresAt must be in the future', { fields: { expiresAt: ['expiresAt must be in the future'] } });
    }
    const amount = hundredthsToDecimalString(hundredthsFromNumber(dto.amount));
    const grantId = randomUUID();
    return toGrant(await this.grants.insert({ organizationId: id, id: grantId, amount, expiresAt: dto.expiresAt ?? null, reason: dto.reason ?? null, createdBy: actor, now }));
  }

  async listGrants(id: string) {
    await this.getRow(id);
    return { items: (await this.grants.list(id, 'asc')).map(toGrant) };
  }

  /** The organization's top-ups as its usage page shows them: amount, used, remaining, expiry, state. */
  async grantsOverview(id: string) {
    await this.getRow(id);
    const rows = await this.grants.list(id, 'desc');
    return {
      organizationId: id,
      ...grantsOverview(
        rows.map((r) => ({ id: r.id, amount: hundredthsFromDecimalString(r.amount), remaining: hundredthsFromDecimalString(r.remaining), expiresAt: r.expires_at ? new Date(r.expires_at) : null, reason: r.reason, createdAt: new Date(r.created_at) })),
        this.clock.now(),
      ),
    };
  }

  /** Adds a member; the plan's teamMembersLimit is checked under the organization's row lock. */
  async addMember(id: string, dto: AddMemberDto) {
    return this.tx.transaction(async () => {
      const manager = this.tx.manager;
      const rows = (await manager.query(`SELECT plan_name FROM organizations WHERE id = $1 FOR UPDATE`, [id])) as Array<{ plan_name: string }>;
      if (!rows[0]) throw new DomainError('ORGANIZATION_NOT_FOUND', `Organization "${id}" does not exist`, { organizationId: id });
      const existing = (await manager.query(`SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2`, [id, dto.userId])) as unknown[];
      if (existing.length === 0) {
        const plan = await this.plans.findOrThrow(rows[0].plan_name);
        const limit = plan.config.limits.teamMembersLimit;
        const [{ n }] = (await manager.query(`SELECT count(*)::int AS n FROM organization_members WHERE organization_id = $1`, [id])) as Array<{ n: number }>;
        if (limit !== null && n + 1 > limit) {
          throw new DomainError('LIMIT_EXCEEDED', `Plan "${plan.key}" allows ${limit} team member(s)`, { limit: 'teamMembersLimit', max: limit, used: n, plan: plan.key });
        }
      }
      await manager.query(
        `INSERT INTO organization_members (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role`,
        [id, dto.userId, dto.role, this.clock.now()],
      );
      return { organizationId: id, userId: dto.userId, role: dto.role };
    });
  }

  async listMembers(id: string) {
    await this.getRow(id);
    const rows = (await this.dataSource.query(`SELECT user_id, role, created_at FROM organization_members WHERE organization_id = $1 ORDER BY user_id`, [id])) as Array<{ user_id: string; role: string; created_at: Date }>;
    return { items: rows.map((r) => ({ userId: r.user_id, role: r.role, createdAt: new Date(r.created_at).toISOString() })) };
  }

  async removeMember(id: string, userId: string) {
    await this.getRow(id);
    const [, deleted] = (await this.dataSource.query(`DELETE FROM organization_members WHERE organization_id = $1 AND user_id = $2`, [id, userId])) as [unknown, number];
    if (deleted === 0) throw new DomainError('NOT_FOUND', `User "${userId}" is not a member of "${id}"`);
    return { organizationId: id, userId, removed: true };
  }
}

function toGrant(row: GrantRow) {
  return {
    id: row.id,
    amount: hundredthsToNumber(hundredthsFromDecimalString(row.amount)),
    remaining: hundredthsToNumber(hundredthsFromDecimalString(row.remaining)),
    expiresAt: row.expires_at ? new Date(row.expires_at).toISOString() : null,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
