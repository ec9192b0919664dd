import { Injectable, Optional } from '@nestjs/common';
import Big from 'big.js';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { Clock } from '../../common/clock/clock';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { ERROR_STATUS } from '../../common/errors/error-codes';
import { MetricsService } from '../../common/metrics/metrics.service';
import { hundredthsFromDecimalString, hundredthsOrZero, hundredthsToDecimalString, hundredthsToNumber } from '../../common/money/credits';
import { periodOf } from '../../common/time/period';
import type { Period } from '../../common/time/period';
import { ClosedPeriods, periodClosedError } from '../analytics/closed-periods.service';
import { RollupRepository } from '../analytics/rollup.repository';
import { MembershipPolicy } from '../api-keys/membership-policy';
import { EventRegistry } from '../events/event-registry.service';
import type { EventDefinitionRecord } from '../events/event-registry.service';
import { OrganizationsService } from '../organizations/organizations.service';
import type { OrganizationRow } from '../organizations/organizations.service';
import { PlanRegistry } from '../plans/plan-registry.service';
import type { PlanDefinitionRecord } from '../plans/plan-registry.service';
import type { PlanLimitKey } from '../plans/entities/plan-definition.entity';
import { ConsumeParams, ConsumeResult, LedgerRepository } from './ledger.repository';
import { LedgerEntries } from './ledger-entries';
import { priceEvent } from './utils/credit-calculator';
import type { PriceBreakdown } from './utils/credit-calculator';
import { MAX_BATCH_EVENTS, parseTrackEvent, requestHash, resolveOccurredAt } from './utils/track-input';
import type { BatchItemResult, CheckResult, TrackResult } from '../../../libs/contracts/src/tracking.types';

export type { BatchItemResult, CheckResult, TrackResult, UsageWarning } from '../../../libs/contracts/src/tracking.types';

/** One event to track, as the HTTP API, the interceptor or another module hands it over. */
export interface TrackInput {
  organizationId: string;
  eventType: string;
  eventData?: Record<string, unknown>;
  userId?: string;
  occurredAt?: string;
  idempotencyKey?: string;
  context?: { endpoint?: string; ip?: string; userAgent?: string };
}

export interface Prepared {
  index: number;
  input: TrackInput;
  definition: EventDefinitionRecord;
  credits: number;
  breakdown: PriceBreakdown;
  occurredAt: Date;
  period: Period;
  periodStart: string;
  key?: string;
  hash?: string;
}

interface PendingTrack {
  input: TrackInput;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
}

type Outcome = { status: 'accepted' | 'duplicate'; result: TrackResult } | { status: 'rejected'; error: DomainError };

const LIMIT_COLUMN: Record<string, 'ai_calls' | 'pdf_exports' | 'sessions'> = { aiCallsPerMonth: 'ai_calls', pdfExportsPerMonth: 'pdf_exports', sessionLimit: 'sessions' };

/**
 * The programmatic API of metering: prices events, enforces SPEC section 4 and records them.
 *
 * Every debit goes through `consume_credits`, one statement that checks and writes under the period's
 * balance row lock, so no interleaving of requests, batches or instances can overspend. A batch shares one
 * transaction; a rejected event inside it writes nothing and does not burn its idempotency key.
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
    private readonly rollups: RollupRepository,
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
          for (const b of batch) b.reject(error);
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
   * Records events that need no enforcement (asynchronous tracking): they are priced and debited like any
   * other, but never refused for credits or limits; what the allowance and top-ups do not cover is overage.
   * Bad input (unknown type, bad data) is still refused per event.
   */
  async trackUnenforced(organizationId: string, inputs: TrackInput[]): Promise<BatchItemResult[]> {
    const outcomes = await this.trackMany(organizationId, inputs, false);
    return toBatchResults(outcomes);
  }

  /** Validates raw bodies (one per event) into inputs: used by the HTTP layer for singles and batch items. */
  parse(organizationId: string, plain: unknown, headerKey?: string, context?: TrackInput['context'], prefix = ''): TrackInput {
    const dto = parseTrackEvent(plain, prefix);
    return { organizationId, eventType: dto.eventType, eventData: dto.eventData, userId: dto.userId, occurredAt: dto.occurredAt, idempotencyKey: dto.idempotencyKey ?? headerKey, context };
  }

  /** Prices an event and says whether it would fit now, without recording anything. */
  async check(input: TrackInput): Promise<CheckResult> {
    const now = this.clock.now();
    const org = await this.organizationFor(input.organizationId, now);
    const plan = await this.plans.findOrThrow(org.plan_name);
    const p = await this.prepare(input, 0, now);
    const balance = (await this.ledger.transaction((m) =>
      m.query(
        `SELECT b.allowance, b.allowance_used, b.overage_used, b.ai_calls, b.pdf_exports, b.sessions,
                (SELECT coalesce(sum(remaining), 0) FROM credit_grants WHERE organization_id = $1 AND remaining > 0 AND (expires_at IS NULL OR expires_at > $3)) AS grants
           FROM (SELECT 1) one LEFT JOIN period_balances b ON b.organization_id = $1 AND b.period_start = $2::date`,
        [org.id, p.periodStart, now],
      ),
    )) as Array<Record<string, string | number | null>>;
    const row = balance[0];
    const allowance = row.allowance === null ? plan.config.monthlyCredits * 100 : hundredthsFromDecimalString(String(row.allowance));
    const open = Math.max(allowance - hundredthsOrZero(row.allowance_used), 0);
    const remaining = open + hundredthsOrZero(row.grants);
    const overage = Math.max(p.credits - remaining, 0);
    const limitKey = p.definition.config.limitKey as PlanLimitKey | null;
    const limit = limitKey ? plan.config.limits[limitKey] : null;
    const used = limitKey ? Number(row[LIMIT_COLUMN[limitKey]] ?? 0) : 0;
    let reason: CheckResult['reason'] = 'OK';
    if (limit !== null && limit !== undefined && used + 1 > limit) reason = 'LIMIT_EXCEEDED';
    else if (overage > 0) {
      const rate = plan.config.overageRate ?? 0;
      const overageUsed = hundredthsOrZero(row.overage_used);
      const cap = org.spend_cap;
      const withinCap = cap === null || new Big(overageUsed + overage).div(100).times(rate).lte(cap);
      if (!(rate > 0 && withinCap)) reason = 'CREDITS_EXHAUSTED';
    }
    return { eventType: input.eventType, credits: hundredthsToNumber(p.credits), breakdown: p.breakdown, fits: reason === 'OK', reason, remainingCredits: hundredthsToNumber(remaining), wouldUseOverage: hundredthsToNumber(reason === 'OK' ? overage : 0) };
  }

  // ------------------------------------------------------------------------------------------------------

  async organizationFor(organizationId: string, now: Date): Promise<OrganizationRow> {
    const row = await this.organizations.getRow(organizationId);
    return this.organizations.applyDuePlanChange(row, now);
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
    const { credits, breakdown } = priceEvent({ baseCredits: definition.config.baseCredits, multipliers: definition.config.multipliers, version: definition.version }, input.eventData ?? {});
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

  private async trackMany(organizationId: string, inputs: Array<TrackInput | DomainError>, enforce = true): Promise<Outcome[]> {
    const now = this.clock.now();
    const org = await this.organizationFor(organizationId, now);
    const plan = await this.plans.findOrThrow(org.plan_name);
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
      const recorded = await this.record(org, plan, ready, now, enforce);
      for (const [i, outcome] of recorded) outcomes[i] = outcome;
    }
    for (const o of outcomes) {
      if (o.status === 'rejected') this.metrics.rejections.inc({ code: o.error.code });
      else if (o.status === 'accepted') {
        this.metrics.eventsTracked.inc({ event_type: o.result.eventType });
        this.metrics.creditsConsumed.inc(o.result.creditsConsumed);
      }
    }
    return outcomes;
  }

  private async record(org: OrganizationRow, plan: PlanDefinitionRecord, items: Prepared[], now: Date, enforce: boolean): Promise<Map<number, Outcome>> {
    const keys = items.filter((p) => p.key).map((p) => p.key!);
    // A batch that repeats a key needs the one-by-one path (a later copy depends on how the first fared).
    if (new Set(keys).size !== keys.length) return this.recordOneByOne(org, plan, items, now, enforce);
    return this.ledger.transaction(async (m) => {
      const outcomes = new Map<number, Outcome>();
      const entries = new LedgerEntries();
      const completed: Array<{ key: string; eventId: string; response: unknown }> = [];
      // 1. Claim every key in one statement (blocks until a transaction holding one of them ends).
      const claimed = await this.ledger.claimKeys(m, org.id, items.filter((p) => p.key).map((p) => ({ key: p.key!, hash: p.hash! })), now);
      const taken = items.filter((p) => p.key && !claimed.has(p.key));
      const existing = await this.ledger.findKeys(m, org.id, taken.map((p) => p.key!));
      for (const p of taken) {
        const row = existing.get(p.key!);
        if (!row || row.request_hash !== p.hash || !row.response) outcomes.set(p.index, { status: 'rejected', error: idempotencyConflict(p.key!) });
        else outcomes.set(p.index, { status: 'duplicate', result: { ...(row.response as unknown as TrackResult), duplicate: true } });
      }
      // 2. Every debit in one round trip, in order, under the balance row lock.
      const toDebit = items.filter((p) => !p.key || claimed.has(p.key));
      const results = await this.ledger.consumeMany(m, org.id, now, toDebit.map((p) => this.consumeParams(org, plan, p, now, { enforce })));
      const released: string[] = [];
      toDebit.forEach((p, i) => {
        const r = results[i];
        if (r.status !== 'OK') {
          // Nothing was written for it; the key goes back so a later attempt can use it.
          if (p.key) released.push(p.key);
          outcomes.set(p.index, { status: 'rejected', error: this.rejection(r, p, plan) });
          return;
        }
        const result = entries.add(org.id, plan, p, r, randomUUID(), now);
        if (p.key) completed.push({ key: p.key, eventId: result.eventId, response: result });
        outcomes.set(p.index, { status: 'accepted', result });
      });
      // 3. Free the refused events' keys, write the accepted ones.
      await this.ledger.releaseKeys(m, org.id, released);
      await this.writeEntries(m, entries);
      await this.ledger.completeKeys(m, org.id, completed);
      return outcomes;
    });
  }

  /** The same, one event at a time: for batches that repeat an idempotency key. */
  private async recordOneByOne(org: OrganizationRow, plan: PlanDefinitionRecord, items: Prepared[], now: Date, enforce: boolean): Promise<Map<number, Outcome>> {
    return this.ledger.transaction(async (m) => {
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
          if (!(await this.ledger.claimKey(m, org.id, p.key, p.hash!, now))) {
            const existing = await this.ledger.findKey(m, org.id, p.key);
            if (!existing || existing.request_hash !== p.hash || !existing.response) outcomes.set(p.index, { status: 'rejected', error: idempotencyConflict(p.key) });
            else outcomes.set(p.index, { status: 'duplicate', result: { ...(existing.response as unknown as TrackResult), duplicate: true } });
            continue;
          }
        }
        const r = await this.ledger.consume(m, this.consumeParams(org, plan, p, now, { enforce }));
        if (r.status !== 'OK') {
          if (p.key) await this.ledger.releaseKey(m, org.id, p.key);
          outcomes.set(p.index, { status: 'rejected', error: this.rejection(r, p, plan) });
          continue;
        }
        const result = entries.add(org.id, plan, p, r, randomUUID(), now);
        if (p.key) {
          completed.push({ key: p.key, eventId: result.eventId, response: result });
          batchKeys.set(p.key, { hash: p.hash!, result });
        }
        outcomes.set(p.index, { status: 'accepted', result });
      }

      await this.writeEntries(m, entries);
      await this.ledger.completeKeys(m, org.id, completed);
      return outcomes;
    });
  }

  /** Writes what a transaction accepted: events, grant consumptions, notifications and their webhooks. */
  async writeEntries(m: EntityManager, entries: LedgerEntries): Promise<void> {
    await this.ledger.insertEvents(m, entries.events);
    await this.rollups.apply(m, entries.events);
    await this.ledger.insertGrantConsumptions(m, entries.takes);
    const fresh = await this.ledger.insertNotifications(m, entries.notifications);
    if (fresh.length > 0) await this.ledger.enqueueWebhooks(m, entries.notifications.filter((n) => fresh.includes(n.id)), this.clock.now());
  }

  /** The consume_credits call for one prepared event under the organization's plan. */
  consumeParams(org: OrganizationRow, plan: PlanDefinitionRecord, p: Prepared, now: Date, options: { enforce?: boolean } = {}): ConsumeParams {
    const limitKey = p.definition.config.limitKey as PlanLimitKey | null;
    const enforce = options.enforce ?? true;
    return {
      organizationId: org.id,
      periodStart: p.periodStart,
      plan: plan.key,
      allowance: String(plan.config.monthlyCredits),
      amount: hundredthsToDecimalString(p.credits),
      // Unenforced (asynchronous) events always fit: whatever the allowance and top-ups do not cover is
      // overage, recorded like any other and billed at the plan's rate.
      overageRate: enforce ? (plan.config.overageRate === null ? null : String(plan.config.overageRate)) : '1',
      spendCap: enforce ? org.spend_cap : null,
      limitKey,
      limit: enforce && limitKey ? (plan.config.limits[limitKey] ?? null) : null,
      now,
    };
  }

  /** The DomainError for a consume_credits refusal, with the plan that would have fitted. */
  rejection(r: ConsumeResult, p: Prepared, plan: PlanDefinitionRecord): DomainError {
    if (r.status === 'PERIOD_CLOSED') return periodClosedError(p.period);
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
