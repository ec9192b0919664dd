import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Clock } from '../../common/clock/clock';
import type { TrackResult } from '../../../libs/contracts/src/tracking.types';
import { consumeParams } from './event-preparer';
import { LedgerEntries } from '../ledger/ledger-entries';
import { LedgerRepository } from '../ledger/ledger.repository';
import { IdempotencyKeysRepository, keyId } from '../ledger/idempotency-keys.repository';
import type { OrganizationKey } from '../ledger/ledger.types';
import { idempotencyConflict, TrackRejections } from './track-rejections';
import type { Outcome, Prepared } from './usage.types';

/** A prepared event's key as one string (keys are per organization). */
function keyOf(p: Prepared): string {
  return keyId(p.input.organizationId, p.key!);
}

/**
 * Records prepared events in one transaction: claims their idempotency keys, debits them in order under the
 * balance row lock (one set-based call), frees the keys of refused ones and writes what was accepted.
 */
@Injectable()
export class LedgerRecorder {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly keys: IdempotencyKeysRepository,
    private readonly rejections: TrackRejections,
    private readonly clock: Clock,
  ) {}

  /**
   * Each event's outcome by its index; a rejected event writes nothing and does not burn its key. The events
   * may belong to several organizations (a group commit of single events): every statement below takes them
   * all at once, so the transaction costs the same round trips whatever the number of organizations.
   */
  async record(items: Prepared[], now: Date): Promise<Map<number, Outcome>> {
    const keyed = items.filter((p) => p.key);
    // A run that repeats a key needs the one-by-one path (a later copy depends on how the first fared).
    if (new Set(keyed.map(keyOf)).size !== keyed.length) return this.recordEachOrganization(items, now);
    return this.ledger.transaction(async () => {
      const outcomes = new Map<number, Outcome>();
      const entries = new LedgerEntries();
      const completed: Array<OrganizationKey & { eventId: string; response: unknown }> = [];
      // 1. Claim every key in one statement (blocks until a transaction holding one of them ends).
      const claimed = await this.keys.claimKeys(keyed.map((p) => ({ organizationId: p.input.organizationId, key: p.key!, hash: p.hash! })), now);
      const taken = keyed.filter((p) => !claimed.has(keyOf(p)));
      const existing = await this.keys.findKeys(taken.map((p) => ({ organizationId: p.input.organizationId, key: p.key! })));
      for (const p of taken) {
        const row = existing.get(keyOf(p));
        if (!row || row.request_hash !== p.hash || !row.response) outcomes.set(p.index, { status: 'rejected', error: idempotencyConflict(p.key!) });
        else outcomes.set(p.index, { status: 'duplicate', result: { ...(row.response as unknown as TrackResult), duplicate: true } });
      }
      // 2. Every debit in one round trip, in order, under the balance rows' locks.
      const toDebit = items.filter((p) => !p.key || claimed.has(keyOf(p)));
      const results = await this.ledger.consumeMany(now, toDebit.map((p) => consumeParams(p, now)));
      const plans = await this.rejections.plansOf(results);
      const released: OrganizationKey[] = [];
      toDebit.forEach((p, i) => {
        const r = results[i];
        const organizationId = p.input.organizationId;
        if (r.status !== 'OK') {
          // Nothing was written for it; the key goes back so a later attempt can use it.
          if (p.key) released.push({ organizationId, key: p.key });
          outcomes.set(p.index, { status: 'rejected', error: this.rejections.rejection(r, p, plans.get(r.plan_name ?? '')) });
          return;
        }
        const result = entries.add(organizationId, plans.get(r.plan_name!)!, p, r, randomUUID(), now);
        if (p.key) completed.push({ organizationId, key: p.key, eventId: result.eventId, response: result });
        outcomes.set(p.index, { status: 'accepted', result });
      });
      // 3. Free the refused events' keys, write the accepted ones.
      await this.keys.releaseKeys(released);
      await this.writeEntries(entries);
      await this.keys.completeKeys(completed);
      return outcomes;
    });
  }

  /** Runs that repeat a key: one organization at a time, each one by one (rare: a retry racing its original). */
  private async recordEachOrganization(items: Prepared[], now: Date): Promise<Map<number, Outcome>> {
    const outcomes = new Map<number, Outcome>();
    const byOrganization = new Map<string, Prepared[]>();
    for (const p of items) byOrganization.set(p.input.organizationId, [...(byOrganization.get(p.input.organizationId) ?? []), p]);
    for (const [organizationId, own] of byOrganization) {
      for (const [i, outcome] of await this.recordOneByOne(organizationId, own, now)) outcomes.set(i, outcome);
    }
    return outcomes;
  }

  /** The same, one event at a time: for batches that repeat an idempotency key. */
  private async recordOneByOne(organizationId: string, items: Prepared[], now: Date): Promise<Map<number, Outcome>> {
    return this.ledger.transaction(async () => {
      // Balance rows first: creating one later would ask for the organization lock while holding a balance lock.
      await this.ledger.ensureBalances(organizationId, items.map((p) => p.periodStart), now);
      const outcomes = new Map<number, Outcome>();
      const entries = new LedgerEntries();
      const completed: Array<OrganizationKey & { eventId: string; response: unknown }> = [];
      // Keys accepted earlier in this same transaction (their response is not written until the end).
      const batchKeys = new Map<string, { hash: string; result: TrackResult }>();

      for (const p of items) {
        if (p.key) {
          const earlier = batchKeys.get(p.key);
          if (earlier) {
            outcomes.set(p.index, earlier.hash === p.hash ? { status: 'duplicate', result: { ...earlier.result, duplicate: true } } : { status: 'rejected', error: idempotencyConflict(p.key) });
            continue;
          }
          if (!(await this.keys.claimKey(organizationId, p.key, p.hash!, now))) {
            const existing = await this.keys.findKey(organizationId, p.key);
            if (!existing || existing.request_hash !== p.hash || !existing.response) outcomes.set(p.index, { status: 'rejected', error: idempotencyConflict(p.key) });
            else outcomes.set(p.index, { status: 'duplicate', result: { ...(existing.response as unknown as TrackResult), duplicate: true } });
            continue;
          }
        }
        const r = await this.ledger.consume(consumeParams(p, now));
        const plan = (await this.rejections.plansOf([r])).get(r.plan_name ?? '');
        if (r.status !== 'OK') {
          if (p.key) await this.keys.releaseKey(organizationId, p.key);
          outcomes.set(p.index, { status: 'rejected', error: this.rejections.rejection(r, p, plan) });
          continue;
        }
        const result = entries.add(organizationId, plan!, p, r, randomUUID(), now);
        if (p.key) {
          completed.push({ organizationId, key: p.key, eventId: result.eventId, response: result });
          batchKeys.set(p.key, { hash: p.hash!, result });
        }
        outcomes.set(p.index, { status: 'accepted', result });
      }

      await this.writeEntries(entries);
      await this.keys.completeKeys(completed);
      return outcomes;
    });
  }

  /** Writes what a transaction accepted: events, rollups, grant consumptions, notifications and their webhooks (one statement). */
  async writeEntries(entries: LedgerEntries): Promise<void> {
    await this.ledger.writeEntries(entries, this.clock.now());
  }
}
