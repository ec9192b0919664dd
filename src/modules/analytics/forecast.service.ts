import { Injectable } from '@nestjs/common';
import Big from 'big.js';
import { Clock } from '../../common/clock/clock';
import { hundredthsFromNumber, hundredthsToNumber } from '../../common/money/credits';
import { periodKey, periodOf } from '../../common/time/period';
import { CreditGrantsRepository } from '../ledger/credit-grants.repository';
import { OrganizationsService } from '../organizations/organizations.service';
import type { OrganizationRow } from '../organizations/organizations.types';
import { PlanRegistry } from '../plans/plan-registry.service';
import { BillingRepository } from './billing.repository';
import { RollupRepository } from './rollup.repository';
import { addDays, dayStart, daysBetween, isoDay, periodStartDay } from './utils/dates';
import { forecastPeriod, rateDays } from './utils/forecast';
import { forecastRange } from './utils/forecast-range';
import { forecastWindow, observation } from './utils/forecast-window';
import { periodPlanPrice } from './utils/plan-price';
import type { BillingCycle } from './utils/plan-price';
import { planNameForPeriod } from './utils/period-plan';
import { recommendPlan } from './utils/recommendation';
import { assessRecommendation } from './utils/recommendation-evidence';
import type { PlanCostInput } from './utils/recommendation';

/**
 * Forecast and upgrade recommendation (docs/analytics.md). Reads the period's balance row, the open top-ups and
 * the daily rollups of the trailing window: a handful of rows whatever the volume.
 */
@Injectable()
export class ForecastService {
  constructor(
    private readonly organizations: OrganizationsService,
    private readonly plans: PlanRegistry,
    private readonly billing: BillingRepository,
    private readonly rollups: RollupRepository,
    private readonly grants: CreditGrantsRepository,
    private readonly clock: Clock,
  ) {}

  async forecast(organizationId: string) {
    const org = await this.organizations.getRow(organizationId);
    return (await this.compute(org)).view;
  }

  /**
   * The cheapest plan for the projected consumption (or for `projectedCredits`, a what-if). Prices are per
   * period for the organization's billing cycle (annual: 1/12 of the annual price), like its invoices.
   */
  async recommendation(organizationId: string, projectedCredits: number | undefined) {
    const org = await this.organizations.getRow(organizationId);
    const { view, planName, demand } = await this.compute(org);
    const given = projectedCredits !== undefined;
    const projected = hundredthsFromNumber(projectedCredits ?? demand.projectedTotal);
    const cycle = org.billing_cycle as BillingCycle;
    const candidates: PlanCostInput[] = this.plans.listPlans({ includeInactive: true }).map((p) => ({
      name: p.key,
      displayName: p.config.displayName,
      monthlyCredits: p.config.monthlyCredits,
      monthlyPrice: Number(periodPlanPrice(p.config.pricing, cycle).toString()),
      overageRate: p.config.overageRate,
      isActive: p.isActive,
    }));
    const recommendation = recommendPlan(candidates, planName, projected);
    // A what-if projection is the caller's own number: no range, so the evidence is judged at that point.
    const low = given ? projected : hundredthsFromNumber(demand.range.low);
    const high = given ? projected : hundredthsFromNumber(demand.range.high);
    const evidence = assessRecommendation({
      plans: candidates,
      currentPlan: planName,
      recommendedPlan: recommendation.recommendedPlan,
      shouldChange: recommendation.shouldChange,
      usedCredits: hundredthsFromNumber(view.usedCredits),
      low,
      high,
      daysOfData: view.daysOfData,
    });
    return {
      organizationId,
      billingCycle: cycle,
      basis: given ? ('given' as const) : ('forecast' as const),
      ...recommendation,
      evidence,
      forecast: view,
    };
  }

  private async compute(org: OrganizationRow) {
    const now = this.clock.now();
    const period = periodOf(now);
    const balance = await this.billing.balance(org.id, periodStartDay(period));
    const planName = balance?.planName ?? planNameForPeriod(org, period);
    const plan = await this.plans.findOrThrow(planName);
    const allowance = balance?.allowance ?? plan.config.monthlyCredits * 100;
    const topUpsLeft = await this.grants.openTotal(org.id, now);
    const used = balance?.consumed ?? 0;
    const window = forecastWindow(period, now);
    const [trailing, dayRows, firstDay] = await Promise.all([
      this.rollups.creditsBetween(org.id, window.from, window.to),
      window.from > window.to ? Promise.resolve([]) : this.rollups.dayTotals(org.id, window.from, addDays(window.to, 1)),
      this.rollups.firstUsageDay(org.id, periodStartDay(period), isoDay(now)),
    ]);
    // What the period can consume before it runs out: its allowance and every top-up it used or may use.
    const available = allowance + (balance?.grantsUsed ?? 0) + topUpsLeft;
    const observed = observation(window, now, new Date(org.created_at), firstDay);
    const inputs = { period, now, usedCredits: used, trailingCredits: trailing, trailingDays: window.days, allowance: available, observedDays: observed.observedDays };
    // What the page shows stops at a hard cap; what the recommendation prices is the demand, cap or not
    // (SPEC 7: a hard-capped plan costs "infinite" when the demand exceeds it).
    const hardCap = plan.config.overageRate === null;
    const f = forecastPeriod({ ...inputs, hardCap });
    const demand = hardCap ? forecastPeriod(inputs) : f;
    // One value per observed day the rate divides by, zeros included: the spread of these is the forecast's uncertainty.
    const byDay = new Map(dayRows.map((d) => [d.day, d.credits]));
    const observedDays = window.from > window.to ? 0 : daysBetween(observed.from, window.to) + 1;
    const counted = Math.min(window.days, observedDays);
    const dailyCredits = Array.from({ length: counted }, (_, i) => byDay.get(addDays(window.to, i - counted + 1)) ?? 0);
    const rate = new Big(trailing).div(100).div(rateDays(window.days, observed.observedDays));
    // The exact days left, as the projection used them: the rounded figure shown (f.daysRemaining) could put
    // the range's low end a few hundredths above the projection when the days' spread is nil.
    const atMs = Math.min(Math.max(now.getTime(), period.start.getTime()), period.end.getTime());
    const rangeInput = { usedCredits: used, dailyCredits, daysRemaining: (period.end.getTime() - atMs) / 86_400_000, rate };
    const range = forecastRange({ ...rangeInput, cap: hardCap ? new Big(available).div(100) : null });
    const demandRange = hardCap ? forecastRange(rangeInput) : range;
    const daysOfData = firstDay === null ? 0 : Math.max(0, Math.round(((now.getTime() - dayStart(firstDay).getTime()) / 86_400_000) * 100) / 100);
    const view = {
      organizationId: org.id,
      plan: plan.key,
      period: periodKey(period),
      start: period.start.toISOString(),
      end: period.end.toISOString(),
      asOf: now.toISOString(),
      allowance: hundredthsToNumber(allowance),
      topUpsAvailable: hundredthsToNumber(available - allowance),
      usedCredits: hundredthsToNumber(used),
      ...f,
      basis: { ...f.basis, from: window.from, to: window.to },
      range,
      daysOfData,
      firstUsageDay: firstDay,
    };
    return { view, planName, demand: { projectedTotal: demand.projectedTotal, range: demandRange } };
  }
}
