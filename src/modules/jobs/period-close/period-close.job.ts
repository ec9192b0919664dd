import { Inject, Injectable } from '@nestjs/common';
import { nextPeriod, periodKey, periodOf } from '../../../common/time/period';
import type { Period } from '../../../common/time/period';
import { APP_CONFIG } from '../../../config/app-config';
import type { AppConfig } from '../../../config/app-config';
import { BillingRepository } from '../../analytics/billing.repository';
import { InvoiceService } from '../../analytics/invoice.service';
import { RollupRepository } from '../../analytics/rollup.repository';
import { addDays, isoDay, periodOfDay, periodStartDay } from '../../analytics/utils/dates';
import { PeriodBalancesRepository } from '../../ledger/period-balances.repository';
import { ReservationsRepository } from '../../ledger/reservations.repository';
import { RollupsRepository } from '../../ledger/rollups.repository';
import { buildMonthlyReport, monthlyReportCsv } from '../../analytics/utils/monthly-report';
import type { OrganizationRow } from '../../organizations/organizations.service';
import { PlanRegistry } from '../../plans/plan-registry.service';
import type { JobContext, JobDefinition, JobResult } from '../job.types';
import { PeriodCloseRepository } from './period-close.repository';

interface PeriodOutcome {
  invoices: number;
  planChanges: number;
  allowancesOpened: number;
  deferred: string[];
  /** Organizations whose rollups had to be recounted from raw events before freezing. */
  recounted: string[];
  complete: boolean;
}

/**
 * SPEC section 8's period close, for every period that ended more than PERIOD_CLOSE_GRACE_MINUTES ago and is
 * not closed yet, oldest first (so a service down over several month ends catches up on each):
 *
 *  1. mark the period closing (committed first: from then on consume_credits refuses it);
 *  2. per organization, under its balance row lock: recount the period's rollups from raw events, freeze the
 *     invoice and the monthly report (JSON and CSV);
 *  3. apply the `next_period` plan changes due at the period end, and open the next period's allowance
 *     rows when that period is the current one;
 *  4. mark it closed.
 *
 * Idempotent at every step (ON CONFLICT DO NOTHING, conditional updates), so a crash anywhere is repaired by
 * the next run and a rerun changes nothing.
 */
@Injectable()
export class PeriodCloseJob implements JobDefinition {
  readonly name = 'period-close';
  readonly description = 'Closes every ended period (after the grace window): freezes invoices and monthly reports, applies next-period plan changes, opens the new allowance';

  constructor(
    private readonly repo: PeriodCloseRepository,
    private readonly billing: BillingRepository,
    private readonly invoices: InvoiceService,
    private readonly rollups: RollupRepository,
    private readonly ledgerRollups: RollupsRepository,
    private readonly balances: PeriodBalancesRepository,
    private readonly reservations: ReservationsRepository,
    private readonly plans: PlanRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async run(ctx: JobContext): Promise<JobResult> {
    const due = await this.duePeriods(ctx.now);
    let rows = 0;
    const closed: string[] = [];
    const deferred: Record<string, string[]> = {};
    const recounted: Record<string, string[]> = {};
    for (const period of due) {
      if (ctx.stopping()) break;
      const outcome = await this.close(period, ctx);
      rows += outcome.invoices * 2 + outcome.planChanges + outcome.allowancesOpened;
      if (outcome.complete) closed.push(periodKey(period));
      if (outcome.deferred.length > 0) deferred[periodKey(period)] = outcome.deferred;
      if (outcome.recounted.length > 0) recounted[periodKey(period)] = outcome.recounted;
    }
    // recounted: organizations whose rollups disagreed with their balance and were rebuilt from raw events.
    return { rows, details: { due: due.map(periodKey), closed, deferred, recounted } };
  }

  /** Periods whose end plus the grace window has passed and whose close is not complete, oldest first. */
  async duePeriods(now: Date): Promise<Period[]> {
    const first = await this.repo.firstActivity();
    if (!first) return [];
    const closes = await this.repo.closes();
    const graceMs = this.config.periodCloseGraceMinutes * 60_000;
    const due: Period[] = [];
    for (let p = periodOfDay(first); p.end.getTime() + graceMs <= now.getTime(); p = nextPeriod(p)) {
      if (closes.get(periodStartDay(p)) !== 'closed') due.push(p);
    }
    return due;
  }

  private async close(period: Period, ctx: JobContext): Promise<PeriodOutcome> {
    await this.repo.markClosing(period, ctx.now);
    const outcome: PeriodOutcome = { invoices: 0, planChanges: 0, allowancesOpened: 0, deferred: [], recounted: [], complete: false };
    for (const org of await this.repo.organizationsToFreeze(period)) {
      if (ctx.stopping()) return outcome;
      const frozen = await this.freeze(org, period, ctx.now);
      if (frozen === 'deferred') outcome.deferred.push(org.id);
      else outcome.invoices++;
      if (frozen === 'recounted') outcome.recounted.push(org.id);
    }
    if (outcome.deferred.length > 0) return outcome;
    outcome.planChanges = await this.repo.applyDuePlanChanges(period.end, ctx.now);
    const next = nextPeriod(period);
    // Only the current period gets its rows ahead of its first event: for a past one (catch-up) the plan of
    // now may not be the plan it had, and its own close creates the rows it needs.
    if (periodKey(periodOf(ctx.now)) === periodKey(next)) outcome.allowancesOpened = await this.balances.openForAll(periodStartDay(next), next.end, ctx.now);
    await this.repo.markClosed(period, ctx.now);
    outcome.complete = true;
    return outcome;
  }

  /** Freezes one organization's period; false when it has pending reservations (frozen on a later run). */
  private async freeze(org: OrganizationRow, period: Period, now: Date): Promise<'frozen' | 'recounted' | 'deferred'> {
    // Outside the transaction: a registry miss reads through the pool, which would wait forever on PGlite.
    const planName = await this.repo.balancePlan(org.id, period, now);
    const plan = await this.plans.findOrThrow(planName);
    const start = periodStartDay(period);
    const end = isoDay(period.end);
    return this.repo.transaction(async () => {
      // The same lock consume_credits takes: every event of the period committed before this point, and
      // every later one has seen the close mark and was refused.
      await this.balances.openAndLock(org.id, start, now);
      if ((await this.reservations.countPending(org.id, start)) > 0) return 'deferred';
      // Final numbers from the rollups, which every tracking transaction keeps in step with the balance
      // row: the close costs O(organizations x groups), not O(events). Only when they disagree with the
      // balance (someone wrote around the tracker) are they recounted from the raw events.
      const recount = !(await this.ledgerRollups.agreeWithBalance(org.id, start, end));
      if (recount) await this.ledgerRollups.rebuild(org.id, start, end, start, addDays(end, -1));
      const balance = (await this.billing.balance(org.id, start))!;
      const lines = await this.invoices.compute(org, plan, period, balance);
      await this.billing.insertInvoice(org.id, period, org.billing_cycle, lines, now);
      const report = buildMonthlyReport({
        organization: { id: org.id, name: org.name, billingCycle: org.billing_cycle },
        plan: { name: plan.key, displayName: plan.config.displayName, monthlyCredits: plan.config.monthlyCredits, overageRate: plan.config.overageRate },
        period,
        generatedAt: now,
        balance,
        invoice: lines,
        rows: await this.rollups.periodRows(org.id, start),
        days: await this.rollups.dayTotals(org.id, start, end),
      });
      await this.billing.insertReport(org.id, period, report, monthlyReportCsv(report), now);
      return recount ? 'recounted' : 'frozen';
    });
  }
}
