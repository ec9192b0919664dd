import { Injectable } from '@nestjs/common';
import Big from 'big.js';
import { Clock } from '../../common/clock/clock';
import { hundredthsOrZero, hundredthsToNumber, roundUsd } from '../../common/money/credits';
import { periodOf } from '../../common/time/period';
import { CreditGrantsRepository } from '../ledger/credit-grants.repository';
import { NotificationsRepository } from '../ledger/notifications.repository';
import { PeriodBalancesRepository } from '../ledger/period-balances.repository';
import { creditsRemaining } from '../ledger/utils/credits-remaining';
import { OrganizationsService } from '../organizations/organizations.service';
import { PlanRegistry } from '../plans/plan-registry.service';
import { NON_COUNT_LIMIT_KEYS } from '../plans/entities/plan-definition.entity';
import type { UsageSummary } from '../../../libs/contracts/src/tracking.types';

/** The current period at a glance (docs/analytics.md): read from the balance row, never from raw events. */
@Injectable()
export class UsageSummaryService {
  constructor(
    private readonly organizations: OrganizationsService,
    private readonly balances: PeriodBalancesRepository,
    private readonly notices: NotificationsRepository,
    private readonly plans: PlanRegistry,
    private readonly clock: Clock,
    private readonly grants: CreditGrantsRepository,
  ) {}

  async summary(organizationId: string): Promise<UsageSummary> {
    const now = this.clock.now();
    const org = await this.organizations.getRow(organizationId);
    const period = periodOf(now);
    const periodStart = period.start.toISOString().slice(0, 10);
    // Read only: a plan change due by now is in force (the plan history says so, and the debit follows it)
    // even before the period close makes it the organization's plan, so it is shown as the plan, not pending.
    const due = org.pending_plan !== null && org.pending_plan_from !== null && new Date(org.pending_plan_from) <= now;
    const balance = await this.balances.find(organizationId, periodStart);
    const plan = await this.plans.findOrThrow(balance?.plan_name ?? (due ? org.pending_plan! : org.plan_name));
    const topUpsText = await this.grants.openTotalExact(organizationId, now);
    const topUpsRemaining = hundredthsOrZero(topUpsText);
    const warnings = await this.notices.allowanceWarnings(organizationId, periodStart);

    const h = hundredthsOrZero;
    const allowance = balance ? h(balance.allowance) : plan.config.monthlyCredits * 100;
    const allowanceUsed = h(balance?.allowance_used);
    const consumed = h(balance?.consumed);
    const overage = h(balance?.overage_used);
    // Every count limit of the plan (the known ones and any an operator added), with the period's count.
    const counts = balance ? await this.balances.limitCounts(organizationId, periodStart) : new Map<string, number>();
    const limits = Object.fromEntries(
      Object.entries(plan.config.limits)
        .filter(([name]) => !NON_COUNT_LIMIT_KEYS.includes(name))
        .map(([name, limit]) => [name, { used: counts.get(name) ?? 0, limit }]),
    );
    return {
      organizationId,
      plan: { name: plan.key, displayName: plan.config.displayName, monthlyCredits: plan.config.monthlyCredits, overageRate: plan.config.overageRate },
      pendingPlan: org.pending_plan && !due ? { plan: org.pending_plan, effectiveFrom: new Date(org.pending_plan_from!).toISOString() } : null,
      period: { start: period.start.toISOString(), end: period.end.toISOString() },
      allowance: hundredthsToNumber(allowance),
      used: hundredthsToNumber(consumed),
      allowanceUsed: hundredthsToNumber(allowanceUsed),
      topUpsUsed: hundredthsToNumber(h(balance?.grants_used)),
      topUpsRemaining: hundredthsToNumber(topUpsRemaining),
      remaining: hundredthsToNumber(creditsRemaining(String(balance?.allowance ?? plan.config.monthlyCredits), String(balance?.allowance_used ?? 0), topUpsText)),
      overage: { credits: hundredthsToNumber(overage), cost: roundUsd(new Big(balance?.overage_cost ?? 0)), spendCap: org.spend_cap === null ? null : Number(org.spend_cap) },
      percentUsed: allowance > 0 ? Number(new Big(consumed).div(allowance).times(100).toFixed(2)) : consumed > 0 ? 100 : 0,
      events: balance ? Number(balance.events) : 0,
      limits,
      warnings: warnings.map((w) => ({ type: w.type, threshold: Number(w.threshold), used: Number(w.used), limit: Number(w.limit), at: new Date(w.created_at).toISOString(), plan: w.plan ?? null })),
    };
  }

  async notifications(organizationId: string) {
    await this.organizations.getRow(organizationId);
    const rows = await this.notices.latest(organizationId);
    return {
      items: rows.map((r) => ({ id: r.id, period: r.period_start.slice(0, 7), type: r.type, threshold: Number(r.threshold), used: Number(r.used), limit: Number(r.limit), createdAt: new Date(r.created_at).toISOString(), payload: r.payload })),
    };
  }
}
