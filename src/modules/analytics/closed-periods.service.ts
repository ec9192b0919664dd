import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainError } from '../../common/errors/domain-error';
import { periodKey, periodTakesEvents } from '../../common/time/period';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import type { Period } from '../../common/time/period';
import { periodStartDay } from './utils/dates';

/** The error of an event for a closed period (docs/api.md): HTTP 422, nothing recorded. */
export function periodClosedError(period: Period): DomainError {
  return new DomainError('PERIOD_CLOSED', `The period ${periodKey(period)} is closed: it takes no more events`, {
    period: periodKey(period),
    start: period.start.toISOString(),
    end: period.end.toISOString(),
  });
}

/**
 * The cheap early PERIOD_CLOSED check, before a tracking transaction starts. The authoritative check is in
 * consume_credits under the balance row lock (with the same grace rule, on the same injected `now`); this
 * one only spares the transaction. A period that has not ended cannot be closed (no query), one past its
 * grace window is closed without asking, and a closed period never reopens (cached).
 */
@Injectable()
export class ClosedPeriods {
  private readonly closed = new Set<string>();

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async assertOpen(period: Period, now: Date): Promise<void> {
    if (period.end.getTime() > now.getTime()) return;
    if (!periodTakesEvents(period, now, this.config.periodCloseGraceMinutes)) throw periodClosedError(period);
    const start = periodStartDay(period);
    if (!this.closed.has(start)) {
      // Outside any transaction (the tracker calls this before it opens one): safe on PGlite's one connection.
      const rows = (await this.dataSource.query(`SELECT 1 FROM period_closes WHERE period_start = $1::date`, [start])) as unknown[];
      if (rows.length === 0) return;
      this.closed.add(start);
    }
    throw periodClosedError(period);
  }
}
