import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Clock } from '../../common/clock/clock';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { hundredthsFromDecimalString, hundredthsFromMicros, hundredthsToNumber, microsFromDecimalString, microsToDecimalString } from '../../common/money/credits';
import { periodOf } from '../../common/time/period';
import { EventRegistry } from '../events/event-registry.service';
import { PlanRegistry } from '../plans/plan-registry.service';
import { DEFAULT_RESERVATION_TTL_SECONDS } from './dto/reservation.dto';
import { LedgerService } from '../ledger/ledger.service';
import type { HeldSettlement } from '../ledger/ledger.service';
import type { ConsumeResult, ReserveParams, ReserveResult } from '../ledger/ledger.types';
import type { ReservationRow } from '../ledger/ledger.types';
import { GroupCommit } from './group-commit';
import { priceEvent, pricedDefinition } from './utils/credit-calculator';
import { assertEventDataSize } from './utils/track-input';
import { OrganizationsService } from '../organizations/organizations.service';
import { consumeParams, EventPreparer } from './event-preparer.service';
import { TrackRejections } from './track-rejections.service';
import type { ReservationResult } from '../../../libs/contracts/src/tracking.types';
import type { ExtensionResult, ReleaseResult, TrackResult } from '../../../libs/contracts/src/tracking.types';
import { mergeExtension } from './utils/hold-extension';
import { storedAnswer, usageOfCharge } from '../../../libs/contracts/src/idempotent-replay';
import type { FirstAnswer, StoredAnswer } from '../../../libs/contracts/src/idempotent-replay';
import type { Prepared, TrackInput } from './usage.types';

export type { ReservationResult } from '../../../libs/contracts/src/tracking.types';

/** Thrown inside a transaction to roll it back, then answered from what already exists. */
class ReplayExisting extends Error {}

/**
 * Two-phase tracking: reserve the priced credits now (they count against the balance at once, through
 * consume_credits), then commit (re-priced with the final data) or release. A pending reservation past its
 * TTL is given back by the sweep (expireDue, run by the reservation-expiry job). Each step is one transaction under the balance row lock.
 */
/** What this instance knows of a hold it made: enough to commit it in one statement without reading it back. */
interface Held {
  organizationId: string;
  prepared: Prepared;
  debit: ConsumeResult;
}

/** Holds remembered for the fast commit; past this the oldest are forgotten (their commit reads the row). */
const MAX_HELD = 10_000;

/** The most holds (or commits) of concurrent requests that share one statement. */
const MAX_GROUP = 500;

@Injectable()
export class ReservationsService {
  private readonly held = new Map<string, Held>();
  /**
   * Holds and fast commits of concurrent requests, of any organizations, are group-committed like single
   * tracked events (same lanes: an organization's requests stay in order in one lane): a `@TrackUsage`
   * request costs two shared round trips instead of two transactions of its own.
   */
  private readonly reserves: GroupCommit<ReserveParams, ReserveResult>;
  private readonly settles: GroupCommit<HeldSettlement, TrackResult | undefined>;

  constructor(
    private readonly organizations: OrganizationsService,
    private readonly preparer: EventPreparer,
    private readonly rejections: TrackRejections,
    private readonly ledger: LedgerService,
    private readonly events: EventRegistry,
    private readonly plans: PlanRegistry,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const options = { maxPerRun: MAX_GROUP, lanes: config.trackingGroupLanes };
    this.reserves = new GroupCommit((items) => this.ledger.hold(items, this.clock.now()), options);
    this.settles = new GroupCommit((items) => this.ledger.settleHeld(items, this.clock.now()), options);
  }

  /**
   * The longest hold (SPEC 5): the period-close grace window, so a hold taken at a period's last instant is
   * settled or expired before the period closes and never holds up the close. A minute at least.
   */
  get maxTtlSeconds(): number {
    return Math.max(60, this.config.periodCloseGraceMinutes * 60);
  }

  async reserve(input: TrackInput, ttlSeconds?: number, attempt = 0): Promise<ReservationResult> {
    assertEventDataSize(input.eventData);
    const max = this.maxTtlSeconds;
    if (ttlSeconds !== undefined && ttlSeconds > max) {
      throw validationFailed({ ttlSeconds: [`ttlSeconds must be at most ${max} (the period-close grace window, PERIOD_CLOSE_GRACE_MINUTES)`] });
    }
    ttlSeconds ??= Math.min(DEFAULT_RESERVATION_TTL_SECONDS, max);
    const now = this.clock.now();
    await this.organizations.assertExists(input.organizationId);
    const orgId = input.organizationId;
    input = await this.withHeldUnits(input);
    const p = await this.preparer.prepare(input, 0, now);
    await this.ledger.ensurePartition(p.periodStart);
    const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
    const keyHash = p.hash ? reservationHash(p.hash) : undefined;
    try {
      // One statement, one round trip, shared with the holds of other requests (reserve_credits_many): claim
      // the key in the namespace tracking uses (a key spent on a tracked event or a batch cannot charge a
      // second time here), debit, record the hold.
      const r = await this.reserves.submit(orgId, {
        organizationId: orgId,
        id: randomUUID(),
        debit: consumeParams(p, now),
        key: p.key ?? null,
        keyHash: keyHash ?? null,
        requestHash: p.hash ?? null,
        occurredAt: p.occurredAt,
        eventType: p.definition.key,
        userId: input.userId ?? null,
        eventData: input.eventData ?? {},
        context: input.context ?? null,
        expiresAt,
      });
      if (r.status === 'KEY_TAKEN') throw new ReplayExisting();
      const debit = { ...r, status: r.status } as ConsumeResult;
      if (debit.status !== 'OK') throw this.rejections.rejection(debit, p, (await this.rejections.plansOf([debit])).get(debit.plan_name ?? ''));
      this.remember(r.reservation_id!, { organizationId: orgId, prepared: p, debit });
      return {
        reservationId: r.reservation_id!,
        eventType: p.definition.key,
        credits: hundredthsToNumber(p.credits),
        expiresAt: expiresAt.toISOString(),
        remainingCredits: hundredthsToNumber(hundredthsFromDecimalString(r.remaining)),
        status: 'pending' as const,
        duplicate: false,
      };
    } catch (error) {
      if (!(error instanceof ReplayExisting)) throw error;
      const { existing, key, remaining } = await this.ledger.transaction(async () => ({
        existing: await this.ledger.findLiveHoldByKey(orgId, p.key!),
        key: await this.ledger.findKey(orgId, p.key!),
        remaining: await this.ledger.creditsRemaining(orgId, p.periodStart, now),
      }));
      // Settled between our attempt and this look: the key is free again, so try once more.
      if (!key && !existing && attempt === 0) return this.reserve(input, ttlSeconds, 1);
      if (existing?.status === 'pending' && new Date(existing.expires_at) <= now && attempt === 0) {
        // Past its TTL, not swept yet: its request is no longer running (it would be 409 IN_PROGRESS for
        // ever until the sweep). Expire it here, which frees the key, and try once more.
        await this.expire(orgId, existing.id, now);
        return this.reserve(input, ttlSeconds, 1);
      }
      if (!existing || existing.request_hash !== p.hash || (key && key.request_hash !== keyHash)) {
        throw new DomainError('IDEMPOTENCY_CONFLICT', `Idempotency key "${p.key}" was already used with a different request`, { idempotencyKey: p.key });
      }
      return {
        reservationId: existing.id,
        eventType: existing.event_type,
        credits: hundredthsToNumber(hundredthsFromDecimalString(existing.credits)),
        expiresAt: new Date(existing.expires_at).toISOString(),
        remainingCredits: hundredthsToNumber(remaining),
        status: existing.status,
        duplicate: true,
        // What the completed request answered and was charged (kept with the key by its commit): the replay
        // is answered from it, on any instance, without running the work again.
        ...(existing.status === 'committed' ? { answer: (key?.response as StoredAnswer | null | undefined) ?? null } : {}),
      };
    }
  }

  /**
   * Work priced by quantities known only after it runs (tokens): a hold whose eventData names no `units`
   * holds the definition's `maxUnits`. They go into the held eventData, so a commit without eventData
   * charges the hold as it is, never less than was held for; the commit's real quantities re-price it.
   */
  private async withHeldUnits(input: TrackInput): Promise<TrackInput> {
    const data = input.eventData ?? {};
    if (data.units !== undefined && data.units !== null) return input;
    const definition = await this.events.findTrackable(input.eventType);
    const maxUnits = definition.config.maxUnits;
    if (!maxUnits || Object.keys(maxUnits).length === 0) return input;
    return { ...input, eventData: { ...data, units: { ...maxUnits } } };
  }

  /**
   * Gives the reservation back and charges the final price, in one transaction: a commit above the reserved
   * amount must fit like any event (402 otherwise, and the reservation stays pending).
   */
  /**
   * `runId`: the commit's X-Run-Id, when it carries one. The hold is charged to the run it was made under
   * (its re-priced debit too); a commit naming another run (or a run for a hold of none) is refused before
   * anything is written, so a caller never believes a charge went where it did not.
   */
  async commit(organizationId: string, reservationId: string, eventData?: Record<string, unknown>, first?: FirstAnswer, runId?: string): Promise<TrackResult> {
    assertEventDataSize(eventData);
    const now = this.clock.now();
    await this.organizations.assertExists(organizationId);
    if (runId !== undefined) await this.assertHoldRun(organizationId, reservationId, runId);
    // The answer kept with the key, written in the commit's own statement or transaction: a charged request
    // always has its answer (or at least its charge) for the replay, whichever instance the replay reaches.
    const keep = this.keeper(first ?? { unstorable: 'not_given' });
    try {
      return await this.commitChecked(organizationId, reservationId, eventData, now, keep);
    } catch (error) {
      throw await this.withOriginalCharge(organizationId, reservationId, error);
    }
  }

  /** What the key keeps for a replay once the hold is charged: `first` (the work's answer) and the charge. */
  private keeper(first: FirstAnswer): (result: TrackResult) => StoredAnswer {
    return (result) => storedAnswer(first, usageOfCharge(result), this.config.idempotentResponseMaxBytes);
  }

  private async assertHoldRun(organizationId: string, reservationId: string, runId: string): Promise<void> {
    const held = this.held.get(reservationId);
    let holdRun: string | null | undefined;
    if (held && held.organizationId === organizationId) holdRun = held.prepared.input.context?.runId ?? null;
    else {
      if (!/^[0-9a-f-]{36}$/i.test(reservationId)) throw notFound(reservationId);
      const row = await this.ledger.transaction(() => this.ledger.findHold(organizationId, reservationId));
      if (!row) throw notFound(reservationId);
      holdRun = row.run_id;
    }
    if ((holdRun ?? '').toLowerCase() !== runId.toLowerCase()) {
      throw validationFailed({ 'X-Run-Id': [holdRun ? `the reservation is charged to run ${holdRun}` : 'the reservation is charged to no run'] });
    }
  }

  /**
   * A second commit of a committed hold (e.g. a retry whose first answer was lost) is 409 RESERVATION_SETTLED
   * with the charge of the commit that won: the caller that was charged can report what it was charged.
   */
  private async withOriginalCharge(organizationId: string, reservationId: string, error: unknown): Promise<unknown> {
    if (!(error instanceof DomainError) || error.code !== 'RESERVATION_SETTLED' || error.details?.status !== 'committed') return error;
    const charge = await this.ledger.transaction(() => this.ledger.committedCharge(organizationId, reservationId));
    if (!charge) return error;
    return new DomainError('RESERVATION_SETTLED', error.message, {
      ...error.details,
      eventId: charge.event_id,
      eventType: charge.event_type,
      creditsConsumed: hundredthsToNumber(hundredthsFromDecimalString(charge.credits)),
      overageCredits: hundredthsToNumber(hundredthsFromDecimalString(charge.overage)),
    });
  }

  private async commitChecked(organizationId: string, reservationId: string, eventData: Record<string, unknown> | undefined, now: Date, keep: (result: TrackResult) => StoredAnswer): Promise<TrackResult> {
    const fast = await this.commitHeld(organizationId, reservationId, eventData, now, keep);
    if (fast) return fast;
    const outcome = await this.ledger.transaction(async () => {
      const row = await this.lockPending(organizationId, reservationId, now);
      if (row.expired) return row;
      const result = await this.chargeLocked(row.reservation, eventData ?? row.reservation.event_data, now, keep);
      return { expired: false as const, result };
    });
    if (outcome.expired) throw settled(reservationId, outcome.status);
    return outcome.result;
  }

  /**
   * Charges a locked pending hold for `data`, re-priced with the definition as it is now (the work ran now;
   * an inactive definition still bills): at the hold's own price the event takes the hold over as it is,
   * else the hold is given back and the event debited at its price (402 when that does not fit).
   */
  private async chargeLocked(res: ReservationRow, data: Record<string, unknown>, now: Date, keep: (result: TrackResult) => StoredAnswer): Promise<TrackResult> {
    const organizationId = res.organization_id;
    const definition = await this.events.findOrThrow(res.event_type);
    const price = streamed(priceEvent(pricedDefinition(definition), data), data);
    const period = periodOf(new Date(res.occurred_at));
    const p: Prepared = {
      index: 0,
      input: { organizationId, eventType: res.event_type, eventData: data, userId: res.user_id ?? undefined, context: res.context ?? undefined },
      definition,
      micros: price.micros,
      credits: price.credits,
      breakdown: price.breakdown,
      occurredAt: new Date(res.occurred_at),
      period,
      periodStart: res.period_start,
      key: res.idempotency_key ?? undefined,
    };
    let r: ConsumeResult;
    if (price.micros === microsFromDecimalString(res.credits)) {
      // The common case (same price): what the reservation took is exactly what the event costs, so the
      // event takes over the hold as it is. No refund, no second debit.
      r = {
        status: 'OK',
        from_allowance: res.from_allowance,
        from_grants: res.from_grants,
        overage: res.overage,
        overage_cost: res.overage_cost,
        plan_name: res.plan_name ?? (await this.ledger.balancePlan(organizationId, res.period_start)),
        grant_takes: res.grant_takes as ConsumeResult['grant_takes'],
        remaining: res.remaining_after,
        consumed_before: res.consumed_before,
        consumed_after: res.consumed_after,
        allowance: res.allowance,
        limit_used: 0,
        budget_takes: res.budget_takes ?? [],
      };
    } else {
      // The hold is given back and the event debited at its new price; its key stays with the commit.
      await this.ledger.refund(res, now, false);
      r = await this.ledger.consume(consumeParams(p, now));
      if (r.status !== 'OK') throw this.rejections.rejection(r, p, (await this.rejections.plansOf([r])).get(r.plan_name ?? ''));
    }
    const plan = (await this.rejections.plansOf([r])).get(r.plan_name!)!;
    // The key now names a charged event: it stays taken for good.
    return this.ledger.settle(res, p, r, plan, now, keep);
  }

  /**
   * The common commit in one statement: a hold this instance made, at the price it was reserved at (the
   * event takes the hold over as it is). Undefined whenever that does not apply (not made here, re-priced,
   * settled or expired meanwhile): the caller then takes the checked path, which reads the row and says why.
   */
  private async commitHeld(organizationId: string, reservationId: string, eventData: Record<string, unknown> | undefined, now: Date, keep: (result: TrackResult) => StoredAnswer): Promise<TrackResult | undefined> {
    const held = this.held.get(reservationId);
    this.held.delete(reservationId);
    if (!held || held.organizationId !== organizationId) return undefined;
    const reserved = held.prepared;
    // Priced with the definition as it is now (the work ran now), like the checked path.
    const definition = await this.events.findOrThrow(reserved.definition.key);
    const data = eventData ?? reserved.input.eventData ?? {};
    const price = streamed(priceEvent(pricedDefinition(definition), data), data);
    if (price.micros !== reserved.micros) return undefined;
    const plan = (await this.rejections.plansOf([held.debit])).get(held.debit.plan_name!);
    if (!plan) return undefined;
    const p: Prepared = { ...reserved, definition, breakdown: price.breakdown, input: { ...reserved.input, eventData: data } };
    return this.settles.submit(organizationId, { organizationId, reservationId, item: p, debit: held.debit, plan, now, respond: keep });
  }

  private remember(reservationId: string, held: Held): void {
    if (this.held.size >= MAX_HELD) this.held.delete(this.held.keys().next().value!);
    this.held.set(reservationId, held);
  }

  /**
   * Grows a pending hold to cover `eventData` (priced like the commit would price it) and pushes its expiry
   * out to `ttlSeconds` from now: a streamed answer holds in steps instead of its whole maximum, and never
   * outlives its hold. The extra credits are debited by consume_credits_many, the function every hold and
   * event debits through, under the same locks: hard caps, spend caps and budgets refuse an extension (402)
   * exactly as they refuse a hold, and the hold then stays as it was. Idempotent by its target: an extension
   * to quantities already covered (a retry, a replay under the same Idempotency-Key) debits nothing.
   * `delivered`: the eventData of what the stream has sent so far, kept with the hold; if its host dies and
   * the hold expires unsettled, that is what it is charged (at most what it holds), not nothing.
   */
  async extend(organizationId: string, reservationId: string, eventData: Record<string, unknown>, ttlSeconds?: number, delivered?: Record<string, unknown>): Promise<ExtensionResult> {
    assertEventDataSize(eventData);
    assertEventDataSize(delivered);
    const max = this.maxTtlSeconds;
    if (ttlSeconds !== undefined && ttlSeconds > max) {
      throw validationFailed({ ttlSeconds: [`ttlSeconds must be at most ${max} (the period-close grace window, PERIOD_CLOSE_GRACE_MINUTES)`] });
    }
    ttlSeconds ??= Math.min(DEFAULT_RESERVATION_TTL_SECONDS, max);
    const now = this.clock.now();
    await this.organizations.assertExists(organizationId);
    // The fast commit charges a hold at the price it was reserved at: an extended hold takes the checked path.
    this.held.delete(reservationId);
    const outcome = await this.ledger.transaction(async () => {
      const row = await this.lockPending(organizationId, reservationId, now);
      if (row.expired) return row;
      const res = row.reservation;
      const definition = await this.events.findOrThrow(res.event_type);
      const price = priceEvent(pricedDefinition(definition), eventData);
      if (delivered && priceEvent(pricedDefinition(definition), delivered).micros > price.micros) {
        throw validationFailed({ delivered: ['what was delivered must not cost more than the eventData the hold covers'] });
      }
      const extra = price.micros - microsFromDecimalString(res.credits);
      const expiresAt = new Date(Math.max(new Date(res.expires_at).getTime(), now.getTime() + ttlSeconds! * 1000));
      if (extra <= 0) {
        await this.ledger.extend(res, null, expiresAt, delivered ?? null);
        return { expired: false as const, eventType: res.event_type, credits: res.credits, added: 0, expiresAt, remaining: res.remaining_after };
      }
      // The extension is a debit of the same kind as the hold: the same key and member budgets, the same agent
      // run (its budget and every ancestor's; the hold's refund gives the whole back to it), no second count
      // against a monthly call limit (the hold counted the call once).
      const debit = { organizationId, periodStart: res.period_start, amount: microsToDecimalString(extra), limitKey: null, now, apiKeyId: res.api_key_id, userId: res.user_id, day: now.toISOString().slice(0, 10), runId: res.run_id };
      const r = await this.ledger.consume(debit);
      if (r.status !== 'OK') {
        const p: Prepared = {
          index: 0,
          input: { organizationId, eventType: res.event_type, eventData, userId: res.user_id ?? undefined },
          definition: { ...definition, config: { ...definition.config, countsToward: [], limitKey: null } } as Prepared['definition'],
          micros: extra,
          credits: hundredthsFromMicros(extra),
          breakdown: price.breakdown,
          occurredAt: new Date(res.occurred_at),
          period: periodOf(new Date(res.occurred_at)),
          periodStart: res.period_start,
        };
        throw this.rejections.rejection(r, p, (await this.rejections.plansOf([r])).get(r.plan_name ?? ''));
      }
      const merged = mergeExtension(res, r, extra, eventData, expiresAt);
      await this.ledger.extend(res, merged, expiresAt, delivered ?? null);
      return { expired: false as const, eventType: res.event_type, credits: merged.credits, added: extra, expiresAt, remaining: r.remaining };
    });
    if (outcome.expired) throw settled(reservationId, outcome.status);
    return {
      reservationId,
      eventType: outcome.eventType,
      credits: hundredthsToNumber(hundredthsFromMicros(microsFromDecimalString(outcome.credits))),
      addedCredits: hundredthsToNumber(hundredthsFromMicros(outcome.added)),
      expiresAt: outcome.expiresAt.toISOString(),
      remainingCredits: hundredthsToNumber(hundredthsFromDecimalString(outcome.remaining)),
      status: 'pending',
    };
  }

  async release(organizationId: string, reservationId: string): Promise<ReleaseResult> {
    this.held.delete(reservationId);
    const now = this.clock.now();
    await this.organizations.assertExists(organizationId);
    const outcome = await this.ledger.transaction(async () => {
      const row = await this.lockPending(organizationId, reservationId, now);
      if (row.expired) return row;
      await this.ledger.release(row.reservation, 'released', now);
      return { expired: false as const, credits: row.reservation.credits };
    });
    if (outcome.expired) throw settled(reservationId, outcome.status);
    return { reservationId, status: 'released', releasedCredits: hundredthsToNumber(hundredthsFromDecimalString(outcome.credits)) };
  }

  async get(organizationId: string, reservationId: string) {
    await this.organizations.assertExists(organizationId);
    const r = await this.ledger.transaction(() => this.ledger.findHold(organizationId, reservationId));
    if (!r) throw notFound(reservationId);
    return { reservationId: r.id, status: r.status, eventType: r.event_type, credits: hundredthsToNumber(hundredthsFromDecimalString(r.credits)), expiresAt: new Date(r.expires_at).toISOString(), eventId: r.event_id };
  }

  /** Gives back every pending reservation past its TTL. Safe to run anywhere, any number of times. */
  async expireDue(limit = 500): Promise<number> {
    const now = this.clock.now();
    return this.ledger.transaction(async () => {
      const due = await this.ledger.lockDueHolds(now, limit);
      for (const res of due) {
        await this.expireLocked(res, now);
      }
      return due.length;
    });
  }

  /** Expires one pending hold past its TTL (a no-op when it is settled meanwhile). */
  private async expire(organizationId: string, id: string, now: Date): Promise<void> {
    await this.ledger.transaction(() => this.lockPending(organizationId, id, now)).catch((error: unknown) => {
      if (!(error instanceof DomainError && error.code === 'RESERVATION_SETTLED')) throw error;
    });
  }

  private async lockPending(organizationId: string, id: string, now: Date): Promise<{ expired: true; status: 'expired' | 'committed' } | { expired: false; reservation: ReservationRow }> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw notFound(id);
    const res = await this.ledger.lockHold(organizationId, id);
    if (!res) throw notFound(id);
    if (res.status !== 'pending') throw settled(id, res.status);
    if (new Date(res.expires_at) <= now) {
      // Past its TTL but not swept yet: expire it here, and answer as if the sweep had run.
      return { expired: true, status: await this.expireLocked(res, now) };
    }
    return { expired: false, reservation: res };
  }

  /**
   * Ends a locked pending hold past its TTL. A streamed hold that recorded what it had delivered (its host
   * died mid-stream, so nobody will settle it) is charged that, never more than it holds: the organization
   * pays for the chunks it received up to the last extension. Any other hold is given back whole.
   */
  private async expireLocked(res: ReservationRow, now: Date): Promise<'expired' | 'committed'> {
    const delivered = res.delivered_data;
    if (!delivered) {
      await this.ledger.release(res, 'expired', now);
      return 'expired';
    }
    const data = { ...delivered, stopReason: HOLD_EXPIRED };
    // Never kept as an answer, like every stream: a replay of its key is 409 IDEMPOTENCY_REPLAYED with this charge.
    const keep = this.keeper({ unstorable: 'not_json' });
    // What chargeLocked does before it gives the hold back, checked first: a refusal there must not end a
    // hold whose credits are still taken.
    const priced = await this.events
      .findOrThrow(res.event_type)
      .then((definition) => priceEvent(pricedDefinition(definition), data))
      .catch((error: unknown) => {
        if (error instanceof DomainError) return undefined;
        throw error;
      });
    if (!priced || priced.micros === 0) {
      await this.ledger.release(res, 'expired', now);
      return 'expired';
    }
    try {
      // Priced like a commit (the definition as it is now); the extension checked it cost no more than the
      // hold then. A charge that no longer fits is refused only after the hold was given back (a price raised
      // since): the hold then ends expired, uncharged, and the sweep goes on with the others.
      await this.chargeLocked(res, data, now, keep);
      return 'committed';
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      await this.ledger.expireRefunded(res, now);
      return 'expired';
    }
  }
}

/** The stop reason of a streamed hold charged at its expiry for what it had delivered (its host went away). */
const HOLD_EXPIRED = 'hold_expired';
const STOP_REASONS = new Set(['complete', 'credit_limit', 'client_disconnect', 'error', HOLD_EXPIRED]);

/** A streamed answer's commit names why it ended: the event keeps it with its breakdown (the event log shows it). */
function streamed<P extends { breakdown: object }>(price: P, data: Record<string, unknown>): P {
  return typeof data.stopReason === 'string' && STOP_REASONS.has(data.stopReason) ? { ...price, breakdown: { ...price.breakdown, stopReason: data.stopReason } } : price;
}

function notFound(id: string): DomainError {
  return new DomainError('RESERVATION_NOT_FOUND', `Reservation "${id}" does not exist`, { reservationId: id });
}

function settled(id: string, status: string): DomainError {
  return new DomainError('RESERVATION_SETTLED', `Reservation "${id}" is ${status}`, { reservationId: id, status });
}

/** A reservation's key is bound to its request like a tracking key, and never equal to one. */
function reservationHash(requestHash: string): string {
  return `reservation:${requestHash}`;
}
