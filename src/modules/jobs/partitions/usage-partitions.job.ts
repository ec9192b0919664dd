import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { addMonths, periodOf } from '../../../common/time/period';
import { periodStartDay } from '../../analytics/utils/dates';
import { LedgerService } from '../../ledger/ledger.service';
import type { JobContext, JobDefinition, JobResult } from '../job.types';

/** How many months ahead of the current one get their usage_events partition in advance. */
export const PARTITION_MONTHS_AHEAD = 2;

/**
 * Creates the usage_events partitions of the current and the next months before any event needs them, so
 * the first event of a month never waits on DDL (the tracker still creates a missing one itself).
 */
@Injectable()
export class UsagePartitionsJob implements JobDefinition {
  readonly name = 'usage-partitions';
  readonly description = `Creates the usage_events partitions of the current month and the next ${PARTITION_MONTHS_AHEAD}`;

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
  ) {}

  async run(ctx: JobContext): Promise<JobResult> {
    const current = periodOf(ctx.now);
    const created: string[] = [];
    for (let i = 0; i <= PARTITION_MONTHS_AHEAD; i++) {
      const start = periodStartDay(addMonths(current, i));
      const table = `usage_events_${start.slice(0, 7).replace('-', '_')}`;
      if (await this.exists(table)) continue;
      // The ledger's own creation: it tolerates the tracker (or another instance) creating it meanwhile.
      await this.ledger.ensurePartition(start);
      created.push(table);
    }
    return { rows: created.length, details: { created } };
  }

  private async exists(table: string): Promise<boolean> {
    const [row] = (await this.dataSource.query(`SELECT to_regclass($1) IS NOT NULL AS found`, [table])) as Array<{ found: boolean }>;
    return row.found;
  }
}
