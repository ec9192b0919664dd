import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../../common/errors/domain-error';
import { microsToDecimalString } from '../../common/money/credits';
import { periodOf } from '../../common/time/period';
import type { RefusedEventRow } from '../ledger/ledger.types';
import { LedgerService } from '../ledger/ledger.service';
import type { Outcome, Prepared, TrackInput } from './usage.types';

/**
 * Asynchronous work is accepted before it is written; what the ledger then refuses is kept, never charged
 * and never lost (event log `?status=refused`, the reconciliation's alert, one notice and webhook a period).
 */
@Injectable()
export class RefusedEventsRecorder {
  constructor(private readonly ledger: LedgerService) {}

  /** Asynchronous events that were refused when written: kept (never charged), with one notice a period. */
  async keep(inputs: Array<TrackInput | DomainError>, outcomes: Outcome[], ready: Prepared[], now: Date, source: 'async' | 'expired_hold'): Promise<void> {
    const priced = new Map(ready.map((p) => [p.index, p]));
    const rows: RefusedEventRow[] = [];
    outcomes.forEach((o, i) => {
      const input = inputs[i];
      if (o.status !== 'rejected' || input instanceof DomainError) return;
      const p = priced.get(i);
      // Refused before pricing (e.g. PERIOD_CLOSED by the early check): keep the time the work ran at.
      const at = input.occurredAt ?? input.acceptedAt;
      const given = at === undefined ? undefined : new Date(at);
      const occurredAt = p?.occurredAt ?? (given && !Number.isNaN(given.getTime()) ? given : now);
      rows.push({
        organization_id: input.organizationId,
        id: randomUUID(),
        occurred_at: occurredAt.toISOString(),
        recorded_at: now.toISOString(),
        event_type: input.eventType,
        user_id: input.userId ?? null,
        credits: p ? microsToDecimalString(p.micros) : null,
        event_data: input.eventData ?? {},
        error: o.error.code,
        message: o.error.message,
        source,
        idempotency_key: input.idempotencyKey ?? null,
        period_start: p?.periodStart ?? periodOf(occurredAt).start.toISOString().slice(0, 10),
      });
    });
    if (rows.length === 0) return;
    await this.ledger.recordRefused(rows, now);
  }
}
