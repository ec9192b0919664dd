import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TransactionHost } from '../../../common/database/transaction-host';
import { validationFailed } from '../../../common/errors/domain-error';
import { parsePeriodKey } from '../../../common/time/period';
import type { Period } from '../../../common/time/period';
import { addDays, isIsoDay, isoDay, periodOfDay, periodStartDay } from '../../analytics/utils/dates';
import type { IsoDay } from '../../analytics/utils/dates';
import { PeriodBalancesRepository } from '../../ledger/period-balances.repository';
import { RollupsRepository } from '../../ledger/rollups.repository';
import { JobRunsRepository } from '../job-runs.repository';
import type { JobContext, JobDefinition, JobResult } from '../job.types';

/** A scheduled run never walks further back than this (a service down for longer is repaired by a period run). */
export const ROLLUP_CATCH_UP_DAYS = 62;

/**
 * Recounts rollups from raw events: the repair tool (a whole period, one day, one organization) and a
 * nightly safety net over the days since its last run. Rollups are kept current by the tracker; this only
 * matters if something wrote events another way. Idempotent: a recount of unchanged events writes the same rows.
 */
@Injectable()
export class RollupRefreshJob implements JobDefinition {
  readonly name = 'rollup-refresh';
  readonly description = 'Recounts daily and monthly rollups from raw events: the days since the last run (up to yesterday), or params.period / params.day, optionally one organizationId';

  constructor(
    private readonly dataSource: DataSource,
    private readonly tx: TransactionHost,
    private readonly balances: PeriodBalancesRepository,
    private readonly rollups: RollupsRepository,
    private readonly runs: JobRunsRepository,
  ) {}

  async run(ctx: JobContext): Promise<JobResult> {
    const { period, day, organizationId } = ctx.params;
    if (period !== undefined && day !== undefined) throw validationFailed({ period: ['give period or day, not both'] });
    if (period !== undefined) {
      const p = parsePeriodKey(period);
      return this.summary(await this.refresh(p, periodStartDay(p), lastDay(p), organizationId, ctx), [period]);
    }
    if (day !== undefined) {
      if (!isIsoDay(day)) throw validationFailed({ day: ['day must be a date YYYY-MM-DD'] });
      return this.summary(await this.refresh(periodOfDay(day), day, day, organizationId, ctx), [day]);
    }
    return this.catchUp(ctx);
  }

  /** The days after the watermark up to yesterday, oldest first, the watermark moving after each. */
  private async catchUp(ctx: JobContext): Promise<JobResult> {
    const yesterday = addDays(isoDay(ctx.now), -1);
    const mark = await this.runs.watermark(this.name);
    const floor = addDays(yesterday, -(ROLLUP_CATCH_UP_DAYS - 1));
    let day = mark === undefined ? yesterday : addDays(mark, 1);
    if (day < floor) day = floor;
    let rows = 0;
    const days: string[] = [];
    for (; day <= yesterday && !ctx.stopping(); day = addDays(day, 1)) {
      rows += await this.refresh(periodOfDay(day), day, day, undefined, ctx);
      days.push(day);
      await this.runs.advanceWatermark(this.name, day, ctx.now);
    }
    return { rows, details: { days } };
  }

  /** Recounts `[from, to]` of one period for every organization with usage in it (or one), each under its balance lock. */
  private async refresh(period: Period, from: IsoDay, to: IsoDay, organizationId: string | undefined, ctx: JobContext): Promise<number> {
    const start = periodStartDay(period);
    const end = isoDay(period.end);
    const orgs = organizationId !== undefined ? [organizationId] : await this.organizationsWithUsage(start);
    let rows = 0;
    for (const org of orgs) {
      if (ctx.stopping()) break;
      rows += await this.tx.transaction(async () => {
        await this.balances.lock(org, start);
        return this.rollups.rebuild(org, start, end, from, to);
      });
    }
    return rows;
  }

  /** Organizations with a balance row (every debit creates one) or rollup rows in the period. */
  private async organizationsWithUsage(periodStart: IsoDay): Promise<string[]> {
    const rows = (await this.dataSource.query(
      `SELECT organization_id FROM period_balances WHERE period_start = $1::date AND events > 0
       UNION SELECT DISTINCT organization_id FROM usage_rollups_monthly WHERE period_start = $1::date
       ORDER BY 1`,
      [periodStart],
    )) as Array<{ organization_id: string }>;
    return rows.map((r) => r.organization_id);
  }

  private summary(rows: number, scope: string[]): JobResult {
    return { rows, details: { scope } };
  }
}

function lastDay(period: Period): IsoDay {
  return addDays(isoDay(period.end), -1);
}
