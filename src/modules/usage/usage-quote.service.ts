import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { hundredthsFromDecimalString, hundredthsToNumber } from '../../common/money/credits';
import { remainingBeforeDebit } from '../ledger/utils/credits-remaining';
import { periodClosedError } from '../analytics/closed-periods.service';
import { OrganizationsService } from '../organizations/organizations.service';
import type { CheckResult } from '../../../libs/contracts/src/tracking.types';
import { consumeParams, EventPreparer } from './event-preparer.service';
import { boundRefusal, runRefusal } from './track-rejections.service';
import type { RunRefusal } from '../ledger/ledger.types';
import { LedgerService } from '../ledger/ledger.service';
import type { TrackInput } from './usage.types';

/**
 * Prices an event and says whether it would fit now, without recording anything: the very debit that
 * tracking runs, in a transaction that is always rolled back, so the answer follows the same rules.
 */
@Injectable()
export class UsageQuote {
  constructor(
    private readonly organizations: OrganizationsService,
    private readonly preparer: EventPreparer,
    private readonly ledger: LedgerService,
    private readonly clock: Clock,
  ) {}

  async check(input: TrackInput): Promise<CheckResult> {
    const now = this.clock.now();
    await this.organizations.assertExists(input.organizationId);
    const p = await this.preparer.prepare(input, 0, now);
    const r = await this.ledger.quote(() => this.ledger.consume(consumeParams(p, now)));
    if (r.status === 'PERIOD_CLOSED') throw periodClosedError(p.period);
    // A bound is not "does not fit now" (a top-up or a plan change would not help): the same 422 as tracking.
    if (r.status === 'PERIOD_CREDITS_BOUND' || r.status === 'PERIOD_COST_BOUND') throw boundRefusal(r, p)!;
    // An unknown or closed run is a wrong call, not "does not fit now".
    if (r.status === 'RUN_NOT_FOUND' || r.status === 'RUN_CLOSED') throw runRefusal(r.status, (r.budget ?? {}) as RunRefusal, p);
    const fits = r.status === 'OK';
    // A quote answers what is left now, before the debit it rolled back.
    const remaining = remainingBeforeDebit(r);
    return {
      eventType: input.eventType,
      credits: hundredthsToNumber(p.credits),
      breakdown: p.breakdown,
      fits,
      reason: r.status,
      remainingCredits: hundredthsToNumber(remaining),
      wouldUseOverage: fits ? hundredthsToNumber(hundredthsFromDecimalString(r.overage)) : 0,
    };
  }
}
