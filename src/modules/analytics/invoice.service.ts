import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { hundredthsToNumber, roundUsd } from '../../common/money/credits';
import type { CreditHundredths } from '../../common/money/credits';
import { parsePeriodKey, periodKey, periodOf } from '../../common/time/period';
import type { Period } from '../../common/time/period';
import { OrganizationsService } from '../organizations/organizations.service';
import type { OrganizationRow } from '../organizations/organizations.types';
import { PlanRegistry } from '../plans/plan-registry.service';
import type { PlanDefinitionRecord } from '../plans/plan-registry.service';
import { BillingRepository } from './billing.repository';
import type { Balance } from './billing.repository';
import { periodStartDay } from './utils/dates';
import { buildInvoice } from './utils/invoice';
import type { InvoiceLines, PeriodPlan } from './utils/invoice';
import { periodPlanPrice } from './utils/plan-price';
import type { BillingCycle } from './utils/plan-price';
import { planNameForPeriod } from './utils/period-plan';

export type PeriodInvoiceLines = InvoiceLines & { allowanceUsed: number; topUpsUsed: number };

/**
 * Invoices (docs/analytics.md): a live preview while the period is open, the frozen one once the close job
 * has written it. Both come from the same `compute`, so a preview equals the final invoice for the same usage.
 */
@Injectable()
export class InvoiceService {
  constructor(
    private readonly organizations: OrganizationsService,
    private readonly plans: PlanRegistry,
    private readonly billing: BillingRepository,
    private readonly clock: Clock,
  ) {}

  async invoice(organizationId: string, key: string | undefined) {
    const now = this.clock.now();
    const org = await this.organizations.getRow(organizationId);
    const period = key === undefined ? periodOf(now) : parsePeriodKey(key);
    if (period.start > now) throw validationFailed({ period: ['period must not be in the future'] });
    const start = periodStartDay(period);
    const frozen = await this.billing.invoice(org.id, start);
    if (frozen) return view(org.id, period, 'final', frozen.billingCycle, frozen.lines);
    const balance = await this.billing.balance(org.id, start);
    if (!balance && period.end <= new Date(org.created_at)) {
      throw new DomainError('NOT_FOUND', `Organization "${org.id}" did not exist in ${periodKey(period)}`, { period: periodKey(period) });
    }
    const plan = await this.plans.findOrThrow(balance?.planName ?? planNameForPeriod(org, period));
    const lines = await this.compute(org, plan, period, balance);
    // Ended but not closed yet (the grace window, or the job has not run): late events may still change it.
    return view(org.id, period, period.end <= now ? 'pending_close' : 'open', org.billing_cycle, lines);
  }

  /**
   * The lines of a period's invoice from its balance row (or nothing used, without one). The close job calls
   * this in its transaction, holding the balance row lock, with the plan fetched beforehand.
   */
  async compute(org: OrganizationRow, plan: PlanDefinitionRecord, period: Period, balance: Balance | undefined): Promise<PeriodInvoiceLines> {
    const topUps = await this.billing.grantsCreated(org.id, period);
    const plans = await this.billing.periodPlans(org.id, period, this.clock.now());
    return periodInvoiceLines(org.billing_cycle, plan, balance, topUps, plans);
  }
}

/**
 * The lines of a period's invoice from what `compute` reads: the one rule for the preview, the frozen invoice
 * and the close job's set-based freeze (which reads the same inputs for many organizations at once).
 */
export function periodInvoiceLines(billingCycle: string, plan: PlanDefinitionRecord, balance: Balance | undefined, topUps: CreditHundredths, plans: PeriodPlan[]): PeriodInvoiceLines {
  const lines = buildInvoice({
    planName: plan.key,
    planPrice: roundUsd(periodPlanPrice(plan.config.pricing, billingCycle as BillingCycle)),
    includedCredits: balance?.allowance ?? plan.config.monthlyCredits * 100,
    usedCredits: balance?.consumed ?? 0,
    overageCredits: balance?.overage ?? 0,
    overageRate: plan.config.overageRate,
    // What the debits recorded, each at the rate of its time: a downgrade never erases consumed overage.
    recordedOverageCost: balance?.overageCost ?? '0',
    topUpCredits: topUps,
    plans,
  });
  return { ...lines, allowanceUsed: hundredthsToNumber(balance?.allowanceUsed ?? 0), topUpsUsed: hundredthsToNumber(balance?.grantsUsed ?? 0) };
}

function view(organizationId: string, period: Period, status: 'open' | 'pending_close' | 'final', billingCycle: string, lines: InvoiceLines) {
  return { organizationId, period: periodKey(period), start: period.start.toISOString(), end: period.end.toISOString(), status, billingCycle, currency: 'USD', ...lines };
}
