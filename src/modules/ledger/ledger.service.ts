import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Clock } from '../../common/clock/clock';
import { microsToDecimalString } from '../../common/money/credits';
import type { CreditHundredths } from '../../common/money/credits';
import type { TrackResult } from '../../../libs/contracts/src/tracking.types';
import type { PlanDefinitionRecord } from '../plans/plan-registry.service';
import { claimedOf, claimKeysStatement, completeKeysStatement, IdempotencyKeysRepository, keyId, releaseKeysStatement } from './idempotency-keys.repository';
import type { ClaimedRow, CompletedKey, StoredKey } from './idempotency-keys.repository';
import { LedgerEntries } from './ledger-entries';
import { LedgerRepository } from './ledger.repository';
import type { ConsumeParams, ConsumeResult, DebitItem, HoldExtension, OrganizationKey, RefusedEventRow, ReservationRow, ReserveParams, ReserveResult } from './ledger.types';
import { PeriodBalancesRepository } from './period-balances.repository';
import { ReservationsRepository } from './reservations.repository';

/** One event to debit: the priced item, whose organization it is, and its idempotency key and request hash. */
export type DebitRequest = DebitItem & { input: { organizationId: string }; hash?: string };

/** The plans of the periods a debit pass answered for, by name (the caller's plan registry reads them). */
export type PlansOf = (results: ConsumeResult[]) => Promise<Map<string, PlanDefinitionRecord>>;

/**
 * What the ledger decided for one event of a debit. `duplicate`: its key names an accepted request with the
 * same hash (the answer kept for it); `conflict`: its key was used by another request, or its request has
 * not answered yet; `refused`: the debit's refusal and the plan it was decided under, for the caller to say why.
 */
export type DebitOutcome =
  | { status: 'accepted'; result: TrackResult }
  | { status: 'duplicate'; result: TrackResult }
  | { status: 'conflict' }
  | { status: 'refused'; debit: ConsumeResult; plan: PlanDefinitionRecord | undefined };

/** A hold made by this instance to settle at its reserved price in one shared statement. */
export interface HeldSettlement {
  organizationId: string;
  reservationId: string;
  item: DebitItem;
  debit: ConsumeResult;
  plan: PlanDefinitionRecord;
  now: Date;
  /** What the key keeps for a replay, given the event's answer (only asked when the item has a key). */
  respond: (result: TrackResult) => unknown;
}

/**
 * The ledger's verbs: debit (a batch of one or many), hold, extend, settle, release and refund. Each claims
 * or completes the idempotency keys it concerns, calls the SQL that decides (consume_credits_many and the
 * hold functions, under their row locks) and builds and writes the rows of what it accepted. Its callers
 * validate and price the events and turn refusals into errors; nothing here knows an HTTP request.
 */
@Injectable()
export class LedgerService {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly keys: IdempotencyKeysRepository,
    private readonly reservations: ReservationsRepository,
    private readonly balances: PeriodBalancesRepository,
    private readonly clock: Clock,
  ) {}

  /** A hold as it is (no lock): a lookup, or the run it is charged to. */
  findHold(organizationId: string, id: string): Promise<ReservationRow | undefined> {
    return this.reservations.find(organizationId, id);
  }

  /** The pending or committed hold that took `key` (a reserve's replay is answered from it). */
  findLiveHoldByKey(organizationId: string, key: string): Promise<ReservationRow | undefined> {
    return this.reservations.findLiveByKey(organizationId, key);
  }

  /** What a committed hold's event was charged (a second commit's 409 says it). */
  committedCharge(organizationId: string, id: string): Promise<{ event_id: string; event_type: string; credits: string; overage: string } | undefined> {
    return this.reservations.committedCharge(organizationId, id);
  }

  /** A hold under its row lock, in the caller's transaction: a settle, release, extension or expiry of it is only right under this lock. */
  lockHold(organizationId: string, id: string): Promise<ReservationRow | undefined> {
    return this.reservations.lock(organizationId, id);
  }

  /** Pending holds past their expiry, locked (skipping any another transaction holds), oldest first. */
  lockDueHolds(now: Date, limit: number): Promise<ReservationRow[]> {
    return this.reservations.lockDue(now, limit);
  }

  /** Credits the organization has left in the period at `now` (its allowance and open top-ups). */
  creditsRemaining(organizationId: string, periodStart: string, now: Date): Promise<CreditHundredths> {
    return this.balances.creditsRemaining(organizationId, periodStart, now);
  }

  /** Runs `work` in the ambient transaction (joined when one is open): every verb then runs in it. */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.ledger.transaction(work);
  }

  /** Runs `work` in a transaction that is always rolled back: a what-if with the real rules and locks. */
  quote<T>(work: () => Promise<T>): Promise<T> {
    return this.ledger.quote(work);
  }

  /** Creates the month's partition of the event rows once per process. */
  ensurePartition(periodStart: string): Promise<void> {
    return this.ledger.ensurePartition(periodStart);
  }

  /** One debit decided by the SQL, nothing written: for a quote or a caller that writes its own rows. */
  consume(params: ConsumeParams): Promise<ConsumeResult> {
    return this.ledger.consume(params);
  }

  /**
   * Debits events, in one transaction: claims their idempotency keys, debits them in order under the balance
   * row locks (one set-based call, whatever the number of organizations), gives back the keys of refused
   * ones and writes what was accepted. Outcomes by position in `items`; a refused event writes nothing and
   * does not burn its key.
   */
  async debit<T extends DebitRequest>(items: T[], now: Date, params: (item: T) => ConsumeParams, plansOf: PlansOf): Promise<Map<number, DebitOutcome>> {
    const keyed = items.filter((p) => p.key);
    // A run that repeats a key needs the one-by-one path (a later copy depends on how the first fared).
    if (new Set(keyed.map(keyOf)).size !== keyed.length) return this.debitEachOrganization(items, now, params, plansOf);
    const position = new Map<T, number>(items.map((p, n) => [p, n]));
    const claims = keyed.map((p) => ({ organizationId: p.input.organizationId, key: p.key!, hash: p.hash! }));
    const pipelined = this.debitPipelined(items, claims, now, params, plansOf, position);
    if (pipelined) {
      try {
        return await pipelined;
      } catch (error) {
        // A key was taken (rolled back, nothing written): the path below finds out what became of it.
        if (error !== KEY_TAKEN) throw error;
      }
    }
    return this.ledger.transaction(async () => {
      const outcomes = new Map<number, DebitOutcome>();
      // 1. Claim every key in one statement (blocks until a transaction holding one of them ends).
      const claimed = await this.keys.claimKeys(claims, now);
      const taken = keyed.filter((p) => !claimed.has(keyOf(p)));
      const existing = await this.keys.findKeys(taken.map((p) => ({ organizationId: p.input.organizationId, key: p.key! })));
      for (const p of taken) outcomes.set(position.get(p)!, replayOf(existing.get(keyOf(p)), p.hash));
      // 2. Every debit in one round trip, in order, under the balance rows' locks.
      const toDebit = items.filter((p) => !p.key || claimed.has(keyOf(p)));
      const results = await this.ledger.consumeMany(now, toDebit.map(params));
      const { entries, released, completed } = this.decide(toDebit, results, await plansOf(results), now, position, outcomes);
      // 3. Free the refused events' keys, write the accepted ones.
      await this.keys.releaseKeys(released);
      await this.writeEntries(entries);
      await this.keys.completeKeys(completed);
      return outcomes;
    });
  }

  /**
   * `debit` in two round trips where the database allows it (PostgreSQL, no ambient transaction: undefined
   * otherwise): BEGIN, the key claims and the debit of every event sent together, then the writes sent
   * together with the COMMIT (LedgerRepository.pipelined). The same statements in the same order as the
   * path it stands for, so the same locks in the same order: keys, then balance rows, then the rows written.
   * The debit goes out before the claims have answered, so it debits every event as if each key were
   * claimed; when one was taken (a replay, or a retry racing its original) the transaction is rolled back,
   * nothing of it stays, and it rejects with KEY_TAKEN for the checked path to decide.
   */
  private debitPipelined<T extends DebitRequest>(
    items: T[],
    claims: Array<OrganizationKey & { hash: string }>,
    now: Date,
    params: (item: T) => ConsumeParams,
    plansOf: PlansOf,
    position: Map<T, number>,
  ): Promise<Map<number, DebitOutcome>> | undefined {
    if (items.length === 0) return undefined;
    return this.ledger.pipelined(async (t) => {
      const claiming = claims.length > 0 ? t.send<ClaimedRow>(claimKeysStatement(claims, now)) : undefined;
      const debiting = this.ledger.sendConsumeMany(t, now, items.map(params));
      if (claiming && claimedOf(await claiming).size !== claims.length) throw KEY_TAKEN;
      const results = await debiting;
      const outcomes = new Map<number, DebitOutcome>();
      const { entries, released, completed } = this.decide(items, results, await plansOf(results), now, position, outcomes);
      // Not awaited: they go out now and the COMMIT right behind them (one round trip); a failure of any
      // of them rolls everything back and rejects the whole debit.
      if (released.length > 0) void t.send(releaseKeysStatement(released));
      const write = this.ledger.writeEntriesStatement(entries, this.clock.now());
      if (write) void t.send(write);
      if (completed.length > 0) void t.send(completeKeysStatement(completed));
      return outcomes;
    });
  }

  /**
   * What the debit's results mean for each event debited: an accepted one's rows and answer (and its key
   * to complete), a refused one's refusal (and its key to give back: nothing was written for it, so a
   * later attempt can use it). Outcomes go into `outcomes` by position in the caller's items.
   */
  private decide<T extends DebitRequest>(toDebit: T[], results: ConsumeResult[], plans: Map<string, PlanDefinitionRecord>, now: Date, position: Map<T, number>, outcomes: Map<number, DebitOutcome>) {
    const entries = new LedgerEntries();
    const released: OrganizationKey[] = [];
    const completed: CompletedKey[] = [];
    toDebit.forEach((p, i) => {
      const r = results[i];
      const organizationId = p.input.organizationId;
      if (r.status !== 'OK') {
        if (p.key) released.push({ organizationId, key: p.key });
        outcomes.set(position.get(p)!, { status: 'refused', debit: r, plan: plans.get(r.plan_name ?? '') });
        return;
      }
      const result = entries.add(organizationId, plans.get(r.plan_name!)!, p, r, randomUUID(), now);
      if (p.key) completed.push({ organizationId, key: p.key, eventId: result.eventId, response: result });
      outcomes.set(position.get(p)!, { status: 'accepted', result });
    });
    return { entries, released, completed };
  }

  /** Runs that repeat a key: one organization at a time, each one by one (rare: a retry racing its original). */
  private async debitEachOrganization<T extends DebitRequest>(items: T[], now: Date, params: (item: T) => ConsumeParams, plansOf: PlansOf): Promise<Map<number, DebitOutcome>> {
    const outcomes = new Map<number, DebitOutcome>();
    const byOrganization = new Map<string, Array<[T, number]>>();
    items.forEach((p, n) => byOrganization.set(p.input.organizationId, [...(byOrganization.get(p.input.organizationId) ?? []), [p, n]]));
    for (const [organizationId, own] of byOrganization) {
      for (const [n, outcome] of await this.debitOneByOne(organizationId, own, now, params, plansOf)) outcomes.set(n, outcome);
    }
    return outcomes;
  }

  /** The same, one event at a time: for batches that repeat an idempotency key. */
  private async debitOneByOne<T extends DebitRequest>(organizationId: string, items: Array<[T, number]>, now: Date, params: (item: T) => ConsumeParams, plansOf: PlansOf): Promise<Map<number, DebitOutcome>> {
    return this.ledger.transaction(async () => {
      // Balance rows first: creating one later would ask for the organization lock while holding a balance lock.
      await this.ledger.ensureBalances(organizationId, items.map(([p]) => p.periodStart), now);
      const outcomes = new Map<number, DebitOutcome>();
      const entries = new LedgerEntries();
      const completed: Array<OrganizationKey & { eventId: string; response: unknown }> = [];
      // Keys accepted earlier in this same transaction (their response is not written until the end).
      const batchKeys = new Map<string, { hash: string; result: TrackResult }>();

      for (const [p, n] of items) {
        if (p.key) {
          const earlier = batchKeys.get(p.key);
          if (earlier) {
            outcomes.set(n, earlier.hash === p.hash ? { status: 'duplicate', result: { ...earlier.result, duplicate: true } } : { status: 'conflict' });
            continue;
          }
          if (!(await this.keys.claimKey(organizationId, p.key, p.hash!, now))) {
            outcomes.set(n, replayOf(await this.keys.findKey(organizationId, p.key), p.hash));
            continue;
          }
        }
        const r = await this.ledger.consume(params(p));
        const plan = (await plansOf([r])).get(r.plan_name ?? '');
        if (r.status !== 'OK') {
          if (p.key) await this.keys.releaseKey(organizationId, p.key);
          outcomes.set(n, { status: 'refused', debit: r, plan });
          continue;
        }
        const result = entries.add(organizationId, plan!, p, r, randomUUID(), now);
        if (p.key) {
          completed.push({ organizationId, key: p.key, eventId: result.eventId, response: result });
          batchKeys.set(p.key, { hash: p.hash!, result });
        }
        outcomes.set(n, { status: 'accepted', result });
      }

      await this.writeEntries(entries);
      await this.keys.completeKeys(completed);
      return outcomes;
    });
  }

  /** Writes what a transaction accepted: events, rollups, grant consumptions, notifications and their webhooks (one statement). */
  private async writeEntries(entries: LedgerEntries): Promise<void> {
    await this.ledger.writeEntries(entries, this.clock.now());
  }

  /**
   * Holds of one or many organizations in ONE statement and its own transaction (reserve_credits_many: every
   * key claimed first, one debit pass, the reservation rows in one INSERT); results in the items' order.
   */
  hold(items: ReserveParams[], now: Date): Promise<ReserveResult[]> {
    return this.ledger.reserveMany(items, now);
  }

  /** The key a hold's request claimed, as it is stored (to answer a replay of the hold). */
  findKey(organizationId: string, key: string): Promise<StoredKey | undefined> {
    return this.keys.findKey(organizationId, key);
  }

  /**
   * Grows a locked pending hold by an extension's debit (already made and merged into the hold's amounts),
   * or, with no debit (the hold already covers it), only pushes its expiry out. `delivered` (a stream's
   * eventData for what it has sent so far) is what the hold is charged if it expires unsettled.
   */
  extend(res: ReservationRow, merged: HoldExtension | null, expiresAt: Date, delivered: Record<string, unknown> | null = null): Promise<void> {
    return merged ? this.reservations.extend(res, merged, delivered) : this.reservations.pushExpiry(res.organization_id, res.id, expiresAt, delivered);
  }

  /**
   * Settles holds made by this instance at their reserved price, of one or many organizations, in ONE
   * statement and its own transaction: each event takes its hold over as it is, with the rows an accepted
   * debit writes, each gated on its own reservation still being pending, unexpired and of that price. The
   * event's answer for each settled hold, undefined for one whose gate did not open (nothing was written:
   * its caller falls back to the checked path, which says why).
   */
  async settleHeld(holds: HeldSettlement[], now: Date): Promise<Array<TrackResult | undefined>> {
    const built = holds.map((h) => {
      const entries = new LedgerEntries();
      const result = entries.add(h.organizationId, h.plan, h.item, h.debit, randomUUID(), h.now);
      const key = h.item.key ?? null;
      const hold = { organizationId: h.organizationId, reservationId: h.reservationId, eventId: result.eventId, credits: microsToDecimalString(h.item.micros), key, response: key ? h.respond(result) : null };
      return { hold, entries, result };
    });
    const settled = await this.ledger.settleHolds(built, now);
    return built.map((b) => (settled.has(b.hold.reservationId) ? b.result : undefined));
  }

  /**
   * Settles a locked pending hold (the checked path, in the caller's transaction): the event is written with
   * `debit` (the hold as it was taken, or the re-priced debit made after its refund), the reservation turns
   * committed and its key, for good, names the event and keeps `respond`'s answer.
   */
  async settle(res: ReservationRow, item: DebitItem, debit: ConsumeResult, plan: PlanDefinitionRecord, now: Date, respond: (result: TrackResult) => unknown): Promise<TrackResult> {
    const organizationId = res.organization_id;
    const entries = new LedgerEntries();
    const result = entries.add(organizationId, plan, item, debit, randomUUID(), now);
    await this.writeEntries(entries);
    await this.reservations.markSettled(organizationId, res.id, { status: 'committed', eventId: result.eventId }, now);
    if (res.idempotency_key) await this.keys.completeKeys([{ organizationId, key: res.idempotency_key, eventId: result.eventId, response: respond(result) }]);
    return result;
  }

  /** The plan of a period's balance row (a hold made before plans were kept on it). */
  balancePlan(organizationId: string, periodStart: string): Promise<string | null> {
    return this.ledger.balancePlan(organizationId, periodStart);
  }

  /**
   * Gives a locked pending hold back and marks it released or expired; its idempotency key is freed (a hold
   * that ends unsettled charged nothing, so a later attempt may use the key).
   */
  async release(res: ReservationRow, status: 'released' | 'expired', now: Date): Promise<void> {
    await this.refund(res, now);
    await this.reservations.markSettled(res.organization_id, res.id, { status }, now);
  }

  /** Marks a locked hold whose credits `refund` already gave back (freeKey false) expired, and frees its key. */
  async expireRefunded(res: ReservationRow, now: Date): Promise<void> {
    if (res.idempotency_key) await this.keys.releaseKey(res.organization_id, res.idempotency_key);
    await this.reservations.markSettled(res.organization_id, res.id, { status: 'expired' }, now);
  }

  /**
   * Gives a hold's credits back (to its grants, budgets and run) without settling it. `freeKey`: false when
   * the hold is being re-priced by its commit, whose event keeps the key.
   */
  async refund(res: ReservationRow, now: Date, freeKey = true): Promise<void> {
    await this.reservations.refund(res, now);
    if (freeKey && res.idempotency_key) await this.keys.releaseKey(res.organization_id, res.idempotency_key);
  }

  /**
   * Asynchronous events refused when written: each kept in refused_events, and one notice per organization
   * and period (with its webhook), in the caller's transaction.
   */
  async recordRefused(rows: RefusedEventRow[], now: Date): Promise<void> {
    await this.ledger.transaction(async () => {
      await this.ledger.insertRefused(rows);
      await this.ledger.writeEntries({ events: [], takes: [], notifications: LedgerEntries.refusalNotices(rows) }, now);
    });
  }
}

/** Why a pipelined debit was rolled back: one of its keys was taken (the checked path decides instead). */
const KEY_TAKEN = new Error('debit: an idempotency key was taken');

/** A request's key as one string (keys are per organization). */
function keyOf(p: DebitRequest): string {
  return keyId(p.input.organizationId, p.key!);
}

/** A taken key: the answer of the request that took it when it is this request's, else a conflict. */
function replayOf(row: StoredKey | undefined, hash: string | undefined): DebitOutcome {
  if (!row || row.request_hash !== hash || !row.response) return { status: 'conflict' };
  return { status: 'duplicate', result: { ...(row.response as unknown as TrackResult), duplicate: true } };
}
