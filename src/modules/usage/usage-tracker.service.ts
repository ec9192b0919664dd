import { Injectable, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { Clock } from '../../common/clock/clock';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { ERROR_STATUS } from '../../common/errors/error-codes';
import { MetricsService } from '../../common/metrics/metrics.service';
import { hundredthsFromDecimalString, hundredthsToDecimalString, hundredthsToNumber } from '../../common/money/credits';
import { periodOf } from '../../common/time/period';
import { ClosedPeriods, periodClosedError } from '../analytics/closed-periods.service';
import { MembershipPolicy } from '../api-keys/membership-policy';
import { EventRegistry } from '../events/event-registry.service';
import { OrganizationsService } from '../organizations/organizations.service';
import { PlanRegistry } from '../plans/plan-registry.service';
import type { PlanDefinitionRecord } from '../plans/plan-registry.service';
import type { PlanLimitKey } from '../plans/entities/plan-definition.entity';
import { ConsumeParams, ConsumeResult, LedgerRepository } from './ledger.repository';
import { LedgerEntries } from './ledger-entries';
import type { RefusedEventRow } from './ledger-entries';
import { priceEvent, pricedDefinition } from './utils/credit-calculator';
import { MAX_BATCH_EVENTS, parseTrackEvent, requestHash, resolveOccurredAt } from './utils/track-input';
import type { BatchItemResult, CheckResult, TrackResult } from '../../../libs/contracts/src/tracking.types';

import type { Prepared, TrackInput } from './usage.types';

export type { BatchItemResult, CheckResult, TrackResult, UsageWarning } from '../../../libs/contracts/src/tracking.types';
export type { Prepared, TrackInput } from './usage.types';

interface PendingTrack {
  input: TrackInput;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
}

type Outcome = { status: 'accepted' | 'duplicate'; result: TrackResult } | { status: 'rejected'; error: DomainError };

/**
 * The programmatic API of metering: prices events, enforces SPEC section 4 and records them.
 *
 * Every debit goes through `consume_credits`, one statement that checks and writes under the period's
 * balance row lock and decides the period's plan, allowance, rate, limits and cap itself from the rows it
 * locks, so no interleaving of requests, batches, plan changes or instances can overspend. A batch shares
 * one transaction; a rejected event inside it writes nothing and does not burn its idempotency key.
 */
@Injectable()
export class UsageTracker {
  /** Single events waiting for their organization's running transaction (see submit). */
  private readonly groups = new Map<string, PendingTrack[]>();

  constructor(
    private readonly events: EventRegistry,
    private readonly plans: PlanRegistry,
    private readonly organizations: OrganizationsService,
    private readonly ledger: LedgerRepository,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
    private readonly closedPeriods: ClosedPeriods,
    // Absent when the module runs inside another application without this service's API keys module.
    @Optional() private readonly membership?: MembershipPolicy,
  ) {}

  /** Tracks one event; throws a DomainError (402, 404, 409, …) when it is not accepted. */
  async track(input: TrackInput): Promise<TrackResult> {
    const item = await this.submit(input);
    if (item.status === 'rejected') throw item.error;
    return item.result;
  }

  /**
   * Group commit. Single events of one organization that arrive while a transaction of that organization is
   * running wait for it, then go together in the next transaction: one balance-row lock and one commit for
   * many requests instead of one each, with the same per-event guarantees (in order, each checked on its
   * own). A lone request goes at once, so nothing waits when there is no contention.
   */
  private submit(input: TrackInput): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      let group = this.groups.get(input.organizationId);
      if (!group) {
        group = [];
        this.groups.set(input.organizationId, group);
        group.push({ input, resolve, reject });
        void this.drainGroup(input.organizationId, group);
      } else group.push({ input, resolve, reject });
    });
  }

  private async drainGroup(organizationId: string, group: PendingTrack[]): Promise<void> {
    try {
      while (group.length > 0) {
        const batch = group.splice(0, MAX_BATCH_EVENTS);
        try {
          const outcomes = await this.trackMany(organizationId, batch.map((b) => b.input));
          batch.forEach((b, i) => b.resolve(outcomes[i]));
        } catch (error) {
          if (batch.length === 1) {
            batch[0].reject(error);
            continue;
          }
          // The shared transaction failed (and rolled back whole). Whatever one request did, it must not fail
          // the others: each goes again on its own, so only the one that fails alone gets its error.
          for (const b of batch) {
            try {
              b.resolve((await this.trackMany(organizationId, [b.input]))[0]);
            } catch (own) {
              b.reject(own);
            }
          }
        }
      }
    } finally {
      this.groups.delete(organizationId);
    }
  }

  /**
   * Tracks up to 1,000 events in order, each with its own result. An item may already be a DomainError
   * (it failed validation): it keeps its place and its error in the results.
   */
  async trackBatch(organizationId: string, inputs: Array<TrackInput | DomainError>): Promise<BatchItemResult[]> {
    if (inputs.length === 0) throw validationFailed({ events: ['events must hold at least one event'] });
    if (inputs.length > MAX_BATCH_EVENTS) throw validationFailed({ events: [`a batch holds at most ${MAX_BATCH_EVENTS} events`] });
    const outcomes = await this.trackMany(organizationId, inputs);
    return toBatchResults(outcomes);
  }

  /**
   * Writes asynchronously accepted events (the async buffer, or work whose hold expired while it ran).
   * They are enforced like any other when written (SPEC section 5: never overspend, on every path); one that
   * does not fit then is kept as a refused event (event log, reconciliation, a notification and its webhook)
   * and charges nothing. Nothing is lost: every input ends as an accepted, duplicate or refused record.
   */
  async trackAsync(organizationId: string, inputs: TrackInput[], source: 'async' | 'expired_hold' = 'async'): Promise<BatchItemResult[]> {
    const outcomes = await this.trackMany(organizationId, inputs, source);
    return toBatchResults(outcomes);
  }

  /** Validates raw bodies (one per event) into inputs: used by the HTTP layer for singles and batch items. */
  parse(organizationId: string, plain: unknown, headerKey?: string, context?: TrackInput['context'], prefix = ''): TrackInput {
    const dto = parseTrackEvent(plain, prefix);
    return { organizationId, eventType: dto.eventType, eventData: dto.eventData, userId: dto.userId, occurredAt: dto.occurredAt, idempotencyKey: dto.idempotencyKey ?? headerKey, context };
  }

  /**
   * Prices an event and says whether it would fit now, without recording anything: the very debit that
   * tracking runs, in a transaction that is always rolled back, so the answer follows the same rules.
   */
  async check(input: TrackInput): Promise<CheckResult> {
    const now = this.clock.now();
    await this.organizations.assertExists(input.organizationId);
    const p = await this.prepare(input, 0, now);
    const r = await this.ledger.quote((m) => this.ledger.consume(m, this.consumeParams(p, now)));
    if (r.status === 'PERIOD_CLOSED') throw periodClosedError(p.period);
    const fits = r.status === 'OK';
    // consume_credits reports what is left after an accepted debit, and before a refused one.
    const remaining = hundredthsFromDecimalString(r.remaining) + (fits ? hundredthsFromDecimalString(r.from_allowance) + hundredthsFromDecimalString(r.from_grants) : 0);
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

  // ------------------------------------------------------------------------------------------------------

  /** 404 ORGANIZATION_NOT_FOUND unless it exists (cached: organizations are never deleted). */
  assertOrganization(organizationId: string): Promise<void> {
    return this.organizations.assertExists(organizationId);
  }

  /** Everything that can be decided before touching the ledger: bad input never reaches it. */
  /**
   * `members` memoizes the membership answer per user within one batch or group: a thousand events of ten
   * users ask the database ten times, not a thousand.
   */
  async prepare(input: TrackInput, index: number, now: Date, members?: Map<string, Promise<void>>): Promise<Prepared> {
    const definition = await this.events.findTrackable(input.eventType);
    const occurredAt = resolveOccurredAt(input.occurredAt, now);
    // X-User-Id / userId must be a member who may track (when the organization has members).
    if (this.membership && input.userId !== undefined) {
      let answer = members?.get(input.userId);
      if (!answer) {
        answer = this.membership.assertMayAct(input.organizationId, input.userId, 'track');
        members?.set(input.userId, answer);
      }
      await answer;
    }
    const { credits, breakdown } = priceEvent(pricedDefinition(definition), input.eventData ?? {});
    const period = periodOf(occurredAt);
    await this.closedPeriods.assertOpen(period, now);
    return {
      index,
      input,
      definition,
      credits,
      breakdown,
      occurredAt,
      period,
      periodStart: period.start.toISOString().slice(0, 10),
      key: input.idempotencyKey,
      hash: input.idempotencyKey ? requestHash(input) : undefined,
    };
  }

  private async trackMany(organizationId: string, inputs: Array<TrackInput | DomainError>, source: 'sync' | 'async' | 'expired_hold' = 'sync'): Promise<Outcome[]> {
    const now = this.clock.now();
    await this.organizations.assertExists(organizationId);
    const outcomes: Outcome[] = new Array(inputs.length);
    const ready: Prepared[] = [];
    const members = new Map<string, Promise<void>>();
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      if (input instanceof DomainError) {
        outcomes[i] = { status: 'rejected', error: input };
        continue;
      }
      try {
        ready.push(await this.prepare(input, i, now, members));
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        outcomes[i] = { status: 'rejected', error };
      }
    }
    for (const start of new Set(ready.map((p) => p.periodStart))) await this.ledger.ensurePartition(start);
    if (ready.length > 0) {
      const recorded = await this.record(organizationId, ready, now);
      for (const [i, outcome] of recorded) outcomes[i] = outcome;
    }
    if (source !== 'sync') await this.keepRefused(organizationId, inputs, outcomes, ready, now, source);
    for (const o of outcomes) {
      if (o.status === 'rejected') this.metrics.rejections.inc({ code: o.error.code });
      else if (o.status === 'accepted') {
        this.metrics.eventsTracked.inc({ event_type: o.result.eventType });
        this.metrics.creditsConsumed.inc(o.result.creditsConsumed);
      }
    }
    return outcomes;
  }

  /** Asynchronous events that were refused when written: kept (never charged), with one notice a period. */
  private async keepRefused(organizationId: string, inputs: Array<TrackInput | DomainError>, outcomes: Outcome[], ready: Prepared[], now: Date, source: 'async' | 'expired_hold'): Promise<void> {
    const priced = new Map(ready.map((p) => [p.index, p]));
    const rows: RefusedEventRow[] = [];
    outcomes.forEach((o, i) => {
      const input = inputs[i];
      if (o.status !== 'rejected' || input instanceof DomainError) return;
      const p = priced.get(i);
      // Refused before pricing (e.g. PERIOD_CLOSED by the early check): keep the time the work ran at.
      const given = input.occurredAt === undefined ? undefined : new Date(input.occurredAt);
      const occurredAt = p?.occurredAt ?? (given && !Number.isNaN(given.getTime()) ? given : now);
      rows.push({
        organization_id: organizationId,
        id: randomUUID(),
        occurred_at: occurredAt.toISOString(),
        recorded_at: now.toISOString(),
        event_type: input.eventType,
        user_id: input.userId ?? null,
        credits: p ? hundredthsToDecimalString(p.credits) : null,
        event_data: input.eventData ?? {},
        error: o.error.code,
        message: o.error.message,
        source,
        idempotency_key: input.idempotencyKey ?? null,
        period_start: p?.periodStart ?? periodOf(occurredAt).start.toISOString().slice(0, 10),
      });
    });
    if (rows.length === 0) return;
    await this.ledger.transaction(async (m) => {
      await this.ledger.insertRefused(m, rows);
      await this.ledger.writeEntries(m, { events: [], takes: [], notifications: LedgerEntries.refusalNotices(rows) }, now);
    });
  }

  private async record(organizationId: string, items: Prepared[], now: Date): Promise<Map<number, Outcome>> {
    const keys = items.filter((p) => p.key).map((p) => p.key!);
    // A batch that repeats a key needs the one-by-one path (a later copy depends on how the first fared).
    if (new Set(keys).size !== keys.length) return this.recordOneByOne(organizationId, items, now);
    return this.ledger.transaction(async (m) => {
      const outcomes = new Map<number, Outcome>();
      const entries = new LedgerEntries();
      const completed: Array<{ key: string; eventId: string; response: unknown }> = [];
      // 1. Claim every key in one statement (blocks until a transaction holding one of them ends).
      const claimed = await this.ledger.claimKeys(m, organizationId, items.filter((p) => p.key).map((p) => ({ key: p.key!, hash: p.hash! })), now);
      const taken = items.filter((p) => p.key && !claimed.has(p.key));
      const existing = await this.ledger.findKeys(m, organizationId, taken.map((p) => p.key!));
      for (const p of taken) {
        const row = existing.get(p.key!);
        if (!row || row.request_hash !== p.hash || !row.response) outcomes.set(p.index, { status: 'rejected', error: idempotencyConflict(p.key!) });
        else outcomes.set(p.index, { status: 'duplicate', result: { ...(row.response as unknown as TrackResult), duplicate: true } });
      }
      // 2. Every debit in one round trip, in order, under the balance row lock.
      const toDebit = items.filter((p) => !p.key || claimed.has(p.key));
      const results = await this.ledger.consumeMany(m, organizationId, now, toDebit.map((p) => this.consumeParams(p, now)));
      const plans = await this.plansOf(results);
      const released: string[] = [];
      toDebit.forEach((p, i) => {
        const r = results[i];
        if (r.status !== 'OK') {
          // Nothing was written for it; the key goes back so a later attempt can use it.
          if (p.key) released.push(p.key);
          outcomes.set(p.index, { status: 'rejected', error: this.rejection(r, p, plans.get(r.plan_name ?? '')) });
          return;
        }
        const result = entries.add(organizationId, plans.get(r.plan_name!)!, p, r, randomUUID(), now);
        if (p.key) completed.push({ key: p.key, eventId: result.eventId, response: result });
        outcomes.set(p.index, { status: 'accepted', result });
      });
      // 3. Free the refused events' keys, write the accepted ones.
      await this.ledger.releaseKeys(m, organizationId, released);
      await this.writeEntries(m, entries);
      await this.ledger.completeKeys(m, organizationId, completed);
      return outcomes;
    });
  }

  /** The plans the debits were decided under, by name (a period's plan comes from the ledger, not the caller). */
  async plansOf(results: Array<Pick<ConsumeResult, 'plan_name'>>): Promise<Map<string, PlanDefinitionRecord>> {
    const plans = new Map<string, PlanDefinitionRecord>();
    for (const name of new Set(results.map((r) => r.plan_name).filter((n): n is string => Boolean(n)))) plans.set(name, await this.plans.findOrThrow(name));
    return plans;
  }

  /** The same, one event at a time: for batches that repeat an idempotency key. */
  private async recordOneByOne(organizationId: string, items: Prepared[], now: Date): Promise<Map<number, Outcome>> {
    return this.ledger.transaction(async (m) => {
      // Balance rows first: creating one later would ask for the organization lock while holding a balance lock.
      await this.ledger.ensureBalances(m, organizationId, items.map((p) => p.periodStart), now);
      const outcomes = new Map<number, Outcome>();
      const entries = new LedgerEntries();
      const completed: Array<{ key: string; eventId: string; response: unknown }> = [];
      // Keys accepted earlier in this same transaction (their response is not written until the end).
      const batchKeys = new Map<string, { hash: string; result: TrackResult }>();

      for (const p of items) {
        if (p.key) {
          const earlier = batchKeys.get(p.key);
          if (earlier) {
            outcomes.set(p.index, earlier.hash === p.hash ? { status: 'duplicate', result: { ...earlier.result, duplicate: true } } : { status: 'rejected', error: idempotencyConflict(p.key) });
            continue;
          }
          if (!(await this.ledger.claimKey(m, organizationId, p.key, p.hash!, now))) {
            const existing = await this.ledger.findKey(m, organizationId, p.key);
            if (!existing || existing.request_hash !== p.hash || !existing.response) outcomes.set(p.index, { status: 'rejected', error: idempotencyConflict(p.key) });
            else outcomes.set(p.index, { status: 'duplicate', result: { ...(existing.response as unknown as TrackResult), duplicate: true } });
            continue;
          }
        }
        const r = await this.ledger.consume(m, this.consumeParams(p, now));
        const plan = r.plan_name ? await this.plans.findOrThrow(r.plan_name) : undefined;
        if (r.status !== 'OK') {
          if (p.key) await this.ledger.releaseKey(m, organizationId, p.key);
          outcomes.set(p.index, { status: 'rejected', error: this.rejection(r, p, plan) });
          continue;
        }
        const result = entries.add(organizationId, plan!, p, r, randomUUID(), now);
        if (p.key) {
          completed.push({ key: p.key, eventId: result.eventId, response: result });
          batchKeys.set(p.key, { hash: p.hash!, result });
        }
        outcomes.set(p.index, { status: 'accepted', result });
      }

      await this.writeEntries(m, entries);
      await this.ledger.completeKeys(m, organizationId, completed);
      return outcomes;
    });
  }

  /** Writes what a transaction accepted: events, rollups, grant consumptions, notifications and their webhooks (one statement). */
  async writeEntries(m: EntityManager, entries: LedgerEntries): Promise<void> {
    await this.ledger.writeEntries(m, entries, this.clock.now());
  }

  /** The consume_credits call for one prepared event: what the event is, nothing of the plan. */
  consumeParams(p: Prepared, now: Date): ConsumeParams {
    return {
      organizationId: p.input.organizationId,
      periodStart: p.periodStart,
      amount: hundredthsToDecimalString(p.credits),
      limitKey: p.definition.config.limitKey as PlanLimitKey | null,
      now,
      apiKeyId: p.input.context?.apiKeyId ?? null,
      userId: p.input.userId ?? null,
      day: p.occurredAt.toISOString().slice(0, 10),
    };
  }

  /** The DomainError for a consume_credits refusal, with the plan that would have fitted. */
  rejection(r: ConsumeResult, p: Prepared, plan: PlanDefinitionRecord | undefined): DomainError {
    if (r.status === 'BUDGET_EXCEEDED' && r.budget) return budgetExceeded(r.budget, p.credits);
    if (r.status === 'PERIOD_CLOSED' || !plan) return periodClosedError(p.period);
    const limitKey = p.definition.config.limitKey as PlanLimitKey | null;
    const limit = limitKey ? plan.config.limits[limitKey] : null;
    const consumed = hundredthsFromDecimalString(r.consumed_before);
    if (r.status === 'LIMIT_EXCEEDED') {
      const suggested = this.plans
        .listPlans()
        .find((candidate) => candidate.key !== plan.key && (candidate.config.limits[limitKey!] === null || candidate.config.limits[limitKey!]! > r.limit_used));
      return new DomainError('LIMIT_EXCEEDED', `Plan "${plan.key}" allows ${limit} ${limitKey} per month`, {
        limit: limitKey,
        max: limit,
        used: r.limit_used,
        plan: plan.key,
        suggestedPlan: suggested ? planSummary(suggested) : null,
      });
    }
    // The cheapest active plan whose allowance covers what was used plus what this event needs.
    const needed = consumed + p.credits;
    const suggested = this.plans.listPlans().find((candidate) => candidate.key !== plan.key && candidate.config.monthlyCredits * 100 >= needed);
    return new DomainError('CREDITS_EXHAUSTED', `Not enough credits: ${hundredthsToNumber(p.credits)} required, ${hundredthsToNumber(hundredthsFromDecimalString(r.remaining))} remaining`, {
      required: hundredthsToNumber(p.credits),
      remaining: hundredthsToNumber(hundredthsFromDecimalString(r.remaining)),
      plan: plan.key,
      suggestedPlan: suggested ? planSummary(suggested) : null,
    });
  }
}

/** 402 BUDGET_EXCEEDED: the budget of the event's key or member that it would take past its limit. */
function budgetExceeded(b: NonNullable<ConsumeResult['budget']>, required: number): DomainError {
  const credits = hundredthsToNumber(hundredthsFromDecimalString(String(b.credits)));
  const used = hundredthsToNumber(hundredthsFromDecimalString(String(b.used)));
  const who = b.scope === 'apiKey' ? `API key ${b.subject}` : `member ${b.subject}`;
  return new DomainError('BUDGET_EXCEEDED', `The ${b.period === 'day' ? 'daily' : 'monthly'} budget of ${who} is ${credits} credits: ${used} used, ${hundredthsToNumber(required)} required`, {
    budgetId: b.budgetId,
    scope: b.scope,
    subject: b.subject,
    credits,
    used,
  });
}

function planSummary(plan: PlanDefinitionRecord) {
  return { name: plan.key, displayName: plan.config.displayName, monthlyCredits: plan.config.monthlyCredits, monthlyPrice: plan.config.pricing.monthly };
}

function idempotencyConflict(key: string): DomainError {
  return new DomainError('IDEMPOTENCY_CONFLICT', `Idempotency key "${key}" was already used with a different request`, { idempotencyKey: key });
}

function toBatchResults(outcomes: Outcome[]): BatchItemResult[] {
  return outcomes.map((o, index) => (o.status === 'rejected' ? { index, status: 'rejected' as const, error: errorSummary(o.error) } : { index, status: o.status, result: o.result }));
}

/** The error body of SPEC section 9, for a batch item. */
export function errorSummary(error: DomainError) {
  return { statusCode: ERROR_STATUS[error.code], error: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
}
