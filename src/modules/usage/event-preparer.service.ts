import { limitKeyOf } from '../events/entities/event-definition.entity';
import { Injectable, Optional } from '@nestjs/common';
import { DomainError } from '../../common/errors/domain-error';
import { microsToDecimalString } from '../../common/money/credits';
import { periodOf } from '../../common/time/period';
import { ClosedPeriods } from '../analytics/closed-periods.service';
import { MembershipPolicy } from '../api-keys/membership-policy';
import { EventRegistry } from '../events/event-registry.service';
import type { ConsumeParams } from '../ledger/ledger.types';
import { priceEvent, pricedDefinition } from './utils/credit-calculator';
import { parseTrackEvent, requestHash, resolveOccurredAt } from './utils/track-input';
import type { Prepared, TrackInput } from './usage.types';

/**
 * Everything that can be decided before touching the ledger (bad input never reaches it): the body's
 * fields, the event type, the member, the price and the period. Shared by tracking, quotes and holds.
 */
@Injectable()
export class EventPreparer {
  constructor(
    private readonly events: EventRegistry,
    private readonly closedPeriods: ClosedPeriods,
    // Absent when the module runs inside another application without this service's API keys module.
    @Optional() private readonly membership?: MembershipPolicy,
  ) {}

  /** Validates a raw body (one per event) into an input: used by the HTTP layer for singles and batch items. */
  parse(organizationId: string, plain: unknown, headerKey?: string, context?: TrackInput['context'], prefix = ''): TrackInput {
    const dto = parseTrackEvent(plain, prefix);
    return { organizationId, eventType: dto.eventType, eventData: dto.eventData, userId: dto.userId, occurredAt: dto.occurredAt, idempotencyKey: dto.idempotencyKey ?? headerKey, context };
  }

  /**
   * `members` memoizes the membership answer per organization and user within one batch or group: a
   * thousand events of ten users ask the database ten times, not a thousand.
   */
  async prepare(input: TrackInput, index: number, now: Date, members?: Map<string, Promise<void>>): Promise<Prepared> {
    // A run id that cannot name a run is refused here; whether the run exists, is open and has budget left
    // is decided in the debit, under the run rows' locks.
    if (input.context?.runId !== undefined && !UUID.test(input.context.runId)) throw runNotFound(input.context.runId);
    const definition = await this.events.findTrackable(input.eventType);
    // An asynchronous event without occurredAt is dated when it was accepted, not when it is written.
    const occurredAt = resolveOccurredAt(input.occurredAt ?? input.acceptedAt, now);
    // X-User-Id / userId must be a member who may track (when the organization has members).
    if (this.membership && input.userId !== undefined) {
      const member = `${input.organizationId}\u0000${input.userId}`;
      let answer = members?.get(member);
      if (!answer) {
        answer = this.membership.assertMayAct(input.organizationId, input.userId, 'track');
        members?.set(member, answer);
      }
      await answer;
    }
    const { micros, credits, breakdown } = priceEvent(pricedDefinition(definition), input.eventData ?? {});
    const period = periodOf(occurredAt);
    await this.closedPeriods.assertOpen(period, now);
    return {
      index,
      input,
      definition,
      micros,
      credits,
      breakdown,
      occurredAt,
      period,
      periodStart: period.start.toISOString().slice(0, 10),
      key: input.idempotencyKey,
      // The client's data only: acceptedAt (the server's stamp) stays out, so a later retry is a duplicate.
      hash: input.idempotencyKey ? requestHash(input) : undefined,
    };
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** 404 RUN_NOT_FOUND: the organization has no run of that id (another organization's runs are not found either). */
export function runNotFound(runId: string): DomainError {
  return new DomainError('RUN_NOT_FOUND', `Run "${runId}" does not exist`, { runId });
}

/** The consume_credits call for one prepared event: what the event is, nothing of the plan (the ledger decides it). */
export function consumeParams(p: Prepared, now: Date): ConsumeParams {
  return {
    organizationId: p.input.organizationId,
    periodStart: p.periodStart,
    // The exact price: an event of 0.0049 credits is charged 0.0049, never rounded to 0 on its own.
    amount: microsToDecimalString(p.micros),
    limitKey: limitKeyOf(p.definition.config),
    now,
    apiKeyId: p.input.context?.apiKeyId ?? null,
    userId: p.input.userId ?? null,
    // A daily budget's window is the UTC day the charge is made (the injected clock), never the event's
    // occurredAt: a backdated batch would otherwise charge yesterday's and every earlier day's window again.
    day: now.toISOString().slice(0, 10),
    runId: p.input.context?.runId ?? null,
  };
}
