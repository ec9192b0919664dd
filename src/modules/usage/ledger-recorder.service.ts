import { Injectable } from '@nestjs/common';
import { consumeParams } from './event-preparer.service';
import { LedgerService } from '../ledger/ledger.service';
import type { DebitOutcome } from '../ledger/ledger.service';
import { idempotencyConflict, TrackRejections } from './track-rejections.service';
import type { Outcome, Prepared } from './usage.types';

/**
 * Records prepared events through the ledger's debit (keys claimed, one set-based debit pass, the accepted
 * rows written, in one transaction) and says what became of each: the ledger decides, this turns its
 * refusals into the errors the API answers with.
 */
@Injectable()
export class LedgerRecorder {
  constructor(
    private readonly ledger: LedgerService,
    private readonly rejections: TrackRejections,
  ) {}

  /**
   * Each event's outcome by its index; a rejected event writes nothing and does not burn its key. The events
   * may belong to several organizations (a group commit of single events): the ledger takes them all at
   * once, so the transaction costs the same round trips whatever the number of organizations.
   */
  async record(items: Prepared[], now: Date): Promise<Map<number, Outcome>> {
    const decided = await this.ledger.debit(items, now, (p) => consumeParams(p, now), (results) => this.rejections.plansOf(results));
    const outcomes = new Map<number, Outcome>();
    for (const [n, d] of decided) outcomes.set(items[n].index, this.outcome(items[n], d));
    return outcomes;
  }

  private outcome(p: Prepared, d: DebitOutcome): Outcome {
    switch (d.status) {
      case 'accepted':
      case 'duplicate':
        return { status: d.status, result: d.result };
      case 'conflict':
        return { status: 'rejected', error: idempotencyConflict(p.key!) };
      case 'refused':
        return { status: 'rejected', error: this.rejections.rejection(d.debit, p, d.plan) };
    }
  }
}
