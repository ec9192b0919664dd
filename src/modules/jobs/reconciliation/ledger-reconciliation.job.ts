import { Inject, Injectable } from '@nestjs/common';
import { TransactionHost } from '../../../common/database/transaction-host';
import { parsePeriodKey, periodKey, periodOf, previousPeriod } from '../../../common/time/period';
import type { Period } from '../../../common/time/period';
import { isoDay, periodStartDay } from '../../analytics/utils/dates';
import { APP_CONFIG } from '../../../config/app-config';
import type { AppConfig } from '../../../config/app-config';
import { IngestQueue } from '../../ingest/ingest-queue.types';
import { PeriodBalancesRepository } from '../../ledger/period-balances.repository';
import { RollupsRepository } from '../../ledger/rollups.repository';
import type { JobContext, JobDefinition, JobResult } from '../job.types';
import { ReconciliationRepository } from './reconciliation.repository';
import type { Discrepancy } from './reconciliation.repository';

const DAY_MS = 86_400_000;

/**
 * Checks the ledger invariants and records each discrepancy as an alert (GET /api/admin/jobs/alerts):
 *  - every balance row equals the sums of its ledger (and pending reservations);
 *  - every top-up grant's use equals its consumptions;
 *  - no period past its allowance beyond the overage its plan and spend cap permit (by recorded money);
 *  - asynchronous events refused when written (kept, not charged) are listed as alerts to look at;
 *  - the ingest queue's oldest waiting event is not older than INGEST_LAG_ALERT_SECONDS (drainers behind or down);
 *  - rollups equal raw sums: this one it repairs (a rollup is derived data), recording the alert as resolved.
 * Scope: the current and the previous period, or params.period. A rerun raises nothing new; alerts no longer
 * observed are resolved.
 */
@Injectable()
export class LedgerReconciliationJob implements JobDefinition {
  readonly name = 'ledger-reconciliation';
  readonly description = 'Checks balances = ledger sums, grants = consumptions, allowance and overage limits, rollups = raw sums (repaired); records alerts';

  constructor(
    private readonly tx: TransactionHost,
    private readonly repo: ReconciliationRepository,
    private readonly balances: PeriodBalancesRepository,
    private readonly rollups: RollupsRepository,
    private readonly ingest: IngestQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Daily: at start-up only when the last successful run is more than a day old. */
  shouldCatchUp(now: Date, lastSuccess: Date | undefined): boolean {
    return !lastSuccess || now.getTime() - lastSuccess.getTime() >= DAY_MS;
  }

  async run(ctx: JobContext): Promise<JobResult> {
    const current = periodOf(ctx.now);
    const periods = ctx.params.period !== undefined ? [parsePeriodKey(ctx.params.period)] : [previousPeriod(current), current];
    const found: Discrepancy[] = [];
    let raised = 0;
    let repaired = 0;
    for (const period of periods) {
      if (ctx.stopping()) break;
      for (const d of [...(await this.repo.balanceMismatches(period)), ...(await this.repo.allowanceViolations(period)), ...(await this.repo.refusedEvents(period))]) {
        found.push(d);
        if (await this.repo.raise(d, ctx.runId, ctx.now)) raised++;
      }
      for (const d of await this.repo.rollupMismatches(period)) {
        await this.rebuild(d.organizationId, period);
        await this.repo.repaired(d, ctx.runId, ctx.now);
        repaired++;
      }
    }
    if (ctx.params.period === undefined) {
      const lag = await this.ingest.lag();
      if (lag.oldestAgeMs > this.config.ingestLagAlertSeconds * 1000) {
        // Not one organization's: the whole queue's ('*'), in the current period (resolved there when it drains).
        const d: Discrepancy = { organizationId: '*', kind: 'ingest_lag', periodStart: periodStartDay(current), subject: 'ingest_queue', details: { store: this.ingest.kind, ...lag, thresholdSeconds: this.config.ingestLagAlertSeconds } };
        found.push(d);
        if (await this.repo.raise(d, ctx.runId, ctx.now)) raised++;
      }
    }
    const checkGrants = ctx.params.period === undefined;
    if (checkGrants) {
      for (const d of await this.repo.grantMismatches()) {
        found.push(d);
        if (await this.repo.raise(d, ctx.runId, ctx.now)) raised++;
      }
    }
    const resolved = await this.repo.resolveUnseen(periods.map(periodStartDay), checkGrants, found, ctx.runId, ctx.now);
    return {
      rows: raised + repaired + resolved,
      details: { periods: periods.map(periodKey), discrepancies: found.length, raised, repairedRollups: repaired, resolved },
    };
  }

  private async rebuild(organizationId: string, period: Period): Promise<void> {
    const start = periodStartDay(period);
    const end = isoDay(period.end);
    await this.tx.transaction(async () => {
      await this.balances.lock(organizationId, start);
      await this.rollups.rebuild(organizationId, start, end, start, isoDay(new Date(period.end.getTime() - DAY_MS)));
    });
  }
}
