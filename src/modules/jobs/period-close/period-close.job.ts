import { Inject, Injectable, Logger } from '@nestjs/common';
import { nextPeriod, periodKey, periodOf } from '../../../common/time/period';
import type { Period } from '../../../common/time/period';
import { APP_CONFIG } from '../../../config/app-config';
import type { AppConfig } from '../../../config/app-config';
import { periodInvoiceLines } from '../../analytics/invoice.service';
import { RollupRepository } from '../../analytics/rollup.repository';
import { PeriodBalancesRepository } from '../../ledger/period-balances.repository';
import { RollupsRepository } from '../../ledger/rollups.repository';
import { addDays, isoDay, periodOfDay, periodStartDay } from '../../analytics/utils/dates';
import { buildMonthlyReport, monthlyReportCsv } from '../../analytics/utils/monthly-report';
import type { OrganizationRow } from '../../organizations/organizations.types';
import { PlanRegistry } from '../../plans/plan-registry.service';
import type { PlanDefinitionRecord } from '../../plans/plan-registry.service';
import type { JobContext, JobDefinition, JobResult } from '../job.types';
import { PeriodCloseBatchRepository } from './period-close-batch.repository';
import { BillingRepository } from '../../analytics/billing.repository';
import { OrganizationsRepository } from '../../organizations/organizations.repository';
import type { FrozenPeriod } from '../../analytics/billing.repository';
import { PeriodCloseRepository } from './period-close.repository';
import { ReconciliationRepository } from '../reconciliation/reconciliation.repository';

/**
 * Organizations frozen per transaction: a constant number of statements each, so 1,000 organizations are
 * four transactions. Bounds the locks held at once and the reports built in memory (a few KB each).
 */
const FREEZE_CHUNK = 250;
const FREEZE_CONCURRENCY = 2;

interface PeriodOutcome {
  invoices: number;
  planChanges: number;
  allowancesOpened: number;
  deferred: string[];
  /** Organizations whose rollups had to be recounted from raw events before freezing. */
  recounted: string[];
  /** Organizations whose freeze failed on its own (each also a reconciliation alert): the period stays closing. */
  failed: Array<{ organizationId: string; error: string }>;
  complete: boolean;
}

/**
 * The period close (docs/operations.md), for every period that ended more than PERIOD_CLOSE_GRACE_MINUTES ago and is
 * not closed yet, oldest first (so a service down over several month ends catches up on each):
 *
 *  1. mark the period closing (committed first: from then on consume_credits refuses it);
 *  2. set-based, FREEZE_CHUNK organizations per transaction under their balance row locks: freeze the
 *     invoices and monthly reports (JSON and CSV) from the rollups, recounting from raw events only the
 *     organizations whose rollups disagree with their balance;
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
    private readonly balances: PeriodBalancesRepository,
    private readonly batch: PeriodCloseBatchRepository,
    private readonly billing: BillingRepository,
    private readonly organizations: OrganizationsRepository,
    private readonly rollups: RollupRepository,
    private readonly ledgerRollups: RollupsRepository,
    private readonly plans: PlanRegistry,
    private readonly alerts: ReconciliationRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private readonly logger = new Logger(PeriodCloseJob.name);

  async run(ctx: JobContext): Promise<JobResult> {
    const due = await this.duePeriods(ctx.now);
    let rows = 0;
    const closed: string[] = [];
    const deferred: Record<string, string[]> = {};
    const recounted: Record<string, string[]> = {};
    const failed: Record<string, PeriodOutcome['failed']> = {};
    for (const period of due) {
      if (ctx.stopping()) break;
      const outcome = await this.close(period, ctx);
      rows += outcome.invoices * 2 + outcome.planChanges + outcome.allowancesOpened;
      if (outcome.complete) closed.push(periodKey(period));
      if (outcome.deferred.length > 0) deferred[periodKey(period)] = outcome.deferred;
      if (outcome.recounted.length > 0) recounted[periodKey(period)] = outcome.recounted;
      if (outcome.failed.length > 0) failed[periodKey(period)] = outcome.failed;
    }
    // recounted: organizations whose rollups disagreed with their balance and were rebuilt from raw events.
    // failed: organizations whose own freeze failed (each a period_close_failed alert); every other one closed.
    return { rows, details: { due: due.map(periodKey), closed, deferred, recounted, failed } };
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
    const outcome: PeriodOutcome = { invoices: 0, planChanges: 0, allowancesOpened: 0, deferred: [], recounted: [], failed: [], complete: false };
    await this.balances.openForAll(periodStartDay(period), period.end, ctx.now, { exceptInvoiced: true });
    const orgs = await this.repo.organizationsToFreeze(period);
    const chunks: OrganizationRow[][] = [];
    for (let i = 0; i < orgs.length; i += FREEZE_CHUNK) chunks.push(orgs.slice(i, i + FREEZE_CHUNK));
    // Two chunks in flight, each its own transaction on its own connection: while the service builds one
    // chunk's reports, PostgreSQL reads the next (two cores, two halves of the work). The chunks lock
    // disjoint rows, so they never wait for each other; on PGlite (one connection) they simply run in turn.
    const add = (frozen: { invoices: number; deferred: string[]; recounted: string[] }) => {
      outcome.invoices += frozen.invoices;
      outcome.deferred.push(...frozen.deferred);
      outcome.recounted.push(...frozen.recounted);
    };
    const worker = async () => {
      for (let chunk = chunks.shift(); chunk; chunk = chunks.shift()) {
        if (ctx.stopping()) return false;
        try {
          add(await this.freeze(chunk, period, ctx.now));
        } catch {
          // One organization must not keep the others from closing: the chunk rolled back whole, so it is
          // frozen again one organization at a time, and only the ones that fail on their own are left out.
          for (const org of chunk) {
            if (ctx.stopping()) return false;
            try {
              add(await this.freeze([org], period, ctx.now));
            } catch (error) {
              outcome.failed.push({ organizationId: org.id, error: error instanceof Error ? error.message : String(error) });
            }
          }
        }
      }
      return true;
    };
    const settled = await Promise.allSettled(Array.from({ length: FREEZE_CONCURRENCY }, worker));
    const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
    outcome.failed.sort((a, b) => (a.organizationId < b.organizationId ? -1 : 1));
    for (const f of outcome.failed) {
      this.logger.error(`period ${periodKey(period)}: the close of organization ${f.organizationId} failed: ${f.error}`);
      await this.alerts.raise({ organizationId: f.organizationId, kind: 'period_close_failed', periodStart: periodStartDay(period), subject: 'close', details: { error: f.error.slice(0, 2000) } }, ctx.runId, ctx.now);
    }
    outcome.deferred.sort();
    outcome.recounted.sort();
    if (settled.some((r) => r.status === 'fulfilled' && !r.value)) return outcome;
    // Deferred or failed organizations have no invoice yet: the period stays closing and the next run retries them.
    if (outcome.deferred.length > 0 || outcome.failed.length > 0) return outcome;
    outcome.planChanges = await this.organizations.applyDuePlanChanges(period.end, ctx.now);
    const next = nextPeriod(period);
    // Only the current period gets its rows ahead of its first event: for a past one (catch-up) the plan of
    // now may not be the plan it had, and its own close creates the rows it needs.
    if (periodKey(periodOf(ctx.now)) === periodKey(next)) outcome.allowancesOpened = await this.balances.openForAll(periodStartDay(next), next.end, ctx.now);
    await this.repo.markClosed(period, ctx.now);
    await this.alerts.resolveCloseFailures(periodStartDay(period), ctx.runId, ctx.now);
    outcome.complete = true;
    return outcome;
  }

  /**
   * Freezes a chunk of organizations in one transaction with a constant number of statements: lock every
   * balance row, read balances, rollups, top-ups and plan histories for all of them, build each invoice and
   * report in memory, insert them all. Organizations with pending reservations are left for a later run;
   * those whose rollups disagree with their balance are recounted from raw events (one at a time: the rare
   * case), all under the same locks.
   */
  private async freeze(orgs: OrganizationRow[], period: Period, now: Date): Promise<{ invoices: number; deferred: string[]; recounted: string[] }> {
    const ids = orgs.map((o) => o.id);
    // Outside the transaction: a registry miss reads through the pool, which would wait forever on PGlite.
    const planNames = await this.repo.balancePlans(ids, period, now);
    const plans = new Map<string, PlanDefinitionRecord>();
    for (const name of new Set(planNames.values())) plans.set(name, await this.plans.findOrThrow(name));
    const start = periodStartDay(period);
    const end = isoDay(period.end);
    return this.repo.transaction(async () => {
      // The same lock consume_credits takes: every event of the period committed before this point, and
      // every later one has seen the close mark and was refused.
      await this.batch.lockBalances(ids, period);
      const pending = await this.batch.withPendingReservations(ids, period);
      const live = orgs.filter((o) => !pending.has(o.id));
      const liveIds = live.map((o) => o.id);
      const [balances, rows, days, topUps, history, disagreeing] = [
        await this.batch.balances(liveIds, start),
        await this.batch.periodRows(liveIds, start),
        await this.batch.dayTotals(liveIds, start, end),
        await this.batch.grantsCreated(liveIds, period),
        await this.batch.periodPlans(liveIds, period, now),
        await this.batch.disagreeing(liveIds, start, end),
      ];
      const recounted: string[] = [];
      const frozen: FrozenPeriod[] = [];
      for (const org of live) {
        const balance = balances.get(org.id)!;
        let orgRows = rows.get(org.id) ?? [];
        let orgDays = days.get(org.id) ?? [];
        // Final numbers from the rollups, which every tracking transaction keeps in step with the balance
        // row. Only when they disagree with the balance (someone wrote around the tracker) are they
        // recounted from the raw events, under the lock already held.
        if (disagreeing.has(org.id)) {
          await this.ledgerRollups.rebuild(org.id, start, end, start, addDays(end, -1));
          orgRows = await this.rollups.periodRows(org.id, start);
          orgDays = await this.rollups.dayTotals(org.id, start, end);
          recounted.push(org.id);
        }
        const plan = plans.get(planNames.get(org.id)!)!;
        const lines = periodInvoiceLines(org.billing_cycle, plan, balance, topUps.get(org.id) ?? 0, history.get(org.id) ?? []);
        const report = buildMonthlyReport({
          organization: { id: org.id, name: org.name, billingCycle: org.billing_cycle },
          plan: { name: plan.key, displayName: plan.config.displayName, monthlyCredits: plan.config.monthlyCredits, overageRate: plan.config.overageRate },
          period,
          generatedAt: now,
          balance,
          invoice: lines,
          rows: orgRows,
          days: orgDays,
        });
        frozen.push({ organizationId: org.id, billingCycle: org.billing_cycle, lines, report, csv: monthlyReportCsv(report) });
      }
      const invoices = await this.billing.insertFrozen(period, frozen, now);
      return { invoices, deferred: [...pending], recounted };
    });
  }
}
