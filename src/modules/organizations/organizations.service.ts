import { grantsOverview } from './utils/grant-status';
import { periodUsage } from './utils/period-status';
import { creditsRemaining } from '../ledger/utils/credits-remaining';
import { containsPattern } from './utils/search-pattern';
import { Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { TransactionHost } from '../../common/database/transaction-host';
import { Clock } from '../../common/clock/clock';
import { DomainError } from '../../common/errors/domain-error';
import { hundredthsFromDecimalString, hundredthsFromNumber, hundredthsOrZero, hundredthsToDecimalString, hundredthsToNumber } from '../../common/money/credits';
import { nextPeriod, periodOf } from '../../common/time/period';
import { CreditGrantsRepository } from '../ledger/credit-grants.repository';
import type { GrantRow } from '../ledger/credit-grants.repository';
import { PeriodBalancesRepository } from '../ledger/period-balances.repository';
import { PlanRegistry, PlanDefinitionRecord } from '../plans/plan-registry.service';
import type { Organization, OrganizationListItem, OrganizationRow } from './organizations.types';
import { OrganizationsRepository } from './organizations.repository';
import { AddMemberDto, ChangePlanDto, CreateOrganizationDto, GrantCreditsDto, UpdateOrganizationDto } from './dto/organization.dto';

export type { Organization, OrganizationListItem, OrganizationRow } from './organizations.types';

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
    private readonly repo: OrganizationsRepository,
    private readonly tx: TransactionHost,
    private readonly plans: PlanRegistry,
    private readonly clock: Clock,
    private readonly grants: CreditGrantsRepository,
    private readonly balances: PeriodBalancesRepository,
  ) {}

  /** The organization row (in the ambient transaction when one is open), or 404 ORGANIZATION_NOT_FOUND. */
  async getRow(id: string): Promise<OrganizationRow> {
    const row = await this.repo.find(id);
    if (!row) throw new DomainError('ORGANIZATION_NOT_FOUND', `Organization "${id}" does not exist`, { organizationId: id });
    return row;
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

  /**
   * A page of organizations in id order, each with where it stands this period (used, remaining, status)
   * for the operators' list: the balance row and the open top-ups are joined in the same statement.
   */
  async list(limit = 100, after?: string, q?: string): Promise<{ items: OrganizationListItem[]; nextCursor: string | null }> {
    const now = this.clock.now();
    const rows = await this.repo.listPage(limit + 1, after, q === undefined ? null : containsPattern(q), now, periodOf(now).start.toISOString().slice(0, 10));
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
    const created = await this.repo.insert({
      id: dto.id,
      name: dto.name,
      plan: dto.plan,
      billingCycle: dto.billingCycle ?? 'monthly',
      spendCap: dto.spendCap === undefined ? null : hundredthsToDecimalString(hundredthsFromNumber(dto.spendCap)),
      webhookUrl: dto.webhookUrl ?? null,
      webhookSecret: secret,
      now: this.clock.now(),
    });
    if (!created) throw new DomainError('ALREADY_EXISTS', `Organization "${dto.id}" already exists`, { organizationId: dto.id });
    return { ...toOrganization(created), webhookSecret: secret };
  }

  async update(id: string, dto: UpdateOrganizationDto): Promise<Organization> {
    await this.getRow(id);
    const row = await this.repo.update(
      id,
      {
        name: dto.name,
        billingCycle: dto.billingCycle,
        spendCap: dto.spendCap === undefined ? undefined : dto.spendCap === null ? null : hundredthsToDecimalString(hundredthsFromNumber(dto.spendCap)),
        webhookUrl: dto.webhookUrl,
      },
      this.clock.now(),
    );
    if (!row) throw new DomainError('ORGANIZATION_NOT_FOUND', `Organization "${id}" does not exist`, { organizationId: id });
    return toOrganization(row);
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
      await this.getRow(id);
      await this.repo.changePlan(id, plan.key, from, effectiveNow, now);
      // Balance rows of the periods it governs (the current one for "now"; a next-period row that a
      // future-dated event created already), under their row locks, so in-flight debits are ordered.
      await this.balances.setPlanFrom(id, periodOf(from).start.toISOString().slice(0, 10), plan.key, String(plan.config.monthlyCredits), now);
    });
    return this.get(id);
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
      const planName = await this.repo.lockPlanName(id);
      if (planName === undefined) throw new DomainError('ORGANIZATION_NOT_FOUND', `Organization "${id}" does not exist`, { organizationId: id });
      if ((await this.repo.memberRole(id, dto.userId)) === undefined) {
        const plan = await this.plans.findOrThrow(planName);
        const limit = plan.config.limits.teamMembersLimit;
        const n = await this.repo.countMembers(id);
        if (limit !== null && n + 1 > limit) {
          throw new DomainError('LIMIT_EXCEEDED', `Plan "${plan.key}" allows ${limit} team member(s)`, { limit: 'teamMembersLimit', max: limit, used: n, plan: plan.key });
        }
      }
      await this.repo.upsertMember(id, dto.userId, dto.role, this.clock.now());
      return { organizationId: id, userId: dto.userId, role: dto.role };
    });
  }

  async listMembers(id: string) {
    await this.getRow(id);
    const rows = await this.repo.listMembers(id);
    return { items: rows.map((r) => ({ userId: r.user_id, role: r.role, createdAt: new Date(r.created_at).toISOString() })) };
  }

  async removeMember(id: string, userId: string) {
    await this.getRow(id);
    if (!(await this.repo.removeMember(id, userId))) throw new DomainError('NOT_FOUND', `User "${userId}" is not a member of "${id}"`);
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
