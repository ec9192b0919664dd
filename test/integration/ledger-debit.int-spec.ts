import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../src/common/clock/clock';
import { DomainError } from '../../src/common/errors/domain-error';
import { MAX_EVENT_CREDITS, MAX_PERIOD_CREDITS } from '../../src/common/money/bounds';
import type { DebitOutcome } from '../../src/modules/ledger/ledger.service';
import { OrganizationsService } from '../../src/modules/organizations/organizations.service';
import { TrackRejections } from '../../src/modules/usage/track-rejections.service';
import type { Prepared, TrackInput } from '../../src/modules/usage/usage.types';
import { createOrgWith, debitAsRecorded, llmEventCosting } from '../utils/factories';
import { expectLedgerConsistent, ledgerState } from '../utils/ledger-checks';
import { startTestModule } from '../utils/test-module';
import type { TestModule } from '../utils/test-module';

/**
 * LedgerService.debit against a real database, without HTTP: events prepared and priced by EventPreparer
 * (as the tracker does), debited by the ledger, refusals turned into domain errors by TrackRejections.
 * The seeded llm_completion costs 0.5 + 0.002 per input token, so any price is one event away.
 */
describe('ledger debit (integration)', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let t: TestModule;
  let rejections: TrackRejections;
  let organizations: OrganizationsService;

  /** An llm_completion priced at exactly `credits` (a multiple of 0.002 above 0.5). */
  const costing = llmEventCosting;

  /** One debit call (one transaction), as LedgerRecorder makes it; outcomes in the inputs' order. */
  const debit = (inputs: TrackInput[]) => debitAsRecorded(t, clock.now(), inputs);

  /** The domain error a refused debit is answered with (what the API maps to its status). */
  function refusal({ p, outcome }: { p: Prepared; outcome: DebitOutcome }): DomainError {
    if (outcome.status !== 'refused') throw new Error(`expected a refusal, got ${outcome.status}`);
    return rejections.rejection(outcome.debit, p, outcome.plan);
  }

  const org = (plan: string) => createOrgWith(organizations, plan, { prefix: 'int-debit' });

  beforeAll(async () => {
    t = await startTestModule({ clock });
    rejections = t.get(TrackRejections);
    organizations = t.get(OrganizationsService);
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('idempotency keys', () => {
    it('a replay of the same key and request is the first answer (duplicate), never a second charge', async () => {
      const o = await org('starter');
      const [first] = await debit([costing(o, 3, { idempotencyKey: 'k1' })]);
      expect(first.outcome.status).toBe('accepted');
      const [again] = await debit([costing(o, 3, { idempotencyKey: 'k1' })]);
      expect(again.outcome).toMatchObject({ status: 'duplicate', result: { duplicate: true } });
      if (first.outcome.status !== 'accepted' || again.outcome.status !== 'duplicate') throw new Error('unreachable');
      expect(again.outcome.result.eventId).toBe(first.outcome.result.eventId);
      const state = await ledgerState(t.dataSource, o);
      expect({ events: state.events.n, keys: state.keys, consumed: Number(state.balances.consumed) }).toEqual({ events: 1, keys: 1, consumed: 3 });
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('the same key with another request is a conflict, and charges nothing', async () => {
      const o = await org('starter');
      await debit([costing(o, 3, { idempotencyKey: 'k2' })]);
      const [other] = await debit([costing(o, 5, { idempotencyKey: 'k2' })]);
      expect(other.outcome.status).toBe('conflict');
      expect(Number((await ledgerState(t.dataSource, o)).balances.consumed)).toBe(3);
    });

    it('concurrent debits of one key (separate transactions) charge once; the others are duplicates, not conflicts (8 rounds)', async () => {
      const o = await org('enterprise');
      for (let round = 0; round < 8; round++) {
        const answers = (await Promise.all(Array.from({ length: 6 }, () => debit([costing(o, 2, { idempotencyKey: `race-${round}` })])))).map(([a]) => a.outcome);
        expect(answers.filter((a) => a.status === 'accepted')).toHaveLength(1);
        expect(answers.filter((a) => a.status === 'duplicate')).toHaveLength(5);
        const ids = new Set(answers.map((a) => (a.status === 'accepted' || a.status === 'duplicate' ? a.result.eventId : a.status)));
        expect(ids.size).toBe(1);
      }
      const state = await ledgerState(t.dataSource, o);
      expect({ events: state.events.n, keys: state.keys, consumed: Number(state.balances.consumed) }).toEqual({ events: 8, keys: 8, consumed: 16 });
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('a key repeated inside one batch is one charge (the one-by-one path), other organizations\' events in it unaffected', async () => {
      const [a, b] = [await org('enterprise'), await org('enterprise')];
      const answers = await debit([costing(a, 2, { idempotencyKey: 'twice' }), costing(b, 2, { idempotencyKey: 'twice' }), costing(a, 2, { idempotencyKey: 'twice' }), costing(a, 4, { idempotencyKey: 'twice' })]);
      expect(answers.map((x) => x.outcome.status)).toEqual(['accepted', 'accepted', 'duplicate', 'conflict']);
      expect((await ledgerState(t.dataSource, a)).events.n).toBe(1);
      expect((await ledgerState(t.dataSource, b)).events.n).toBe(1);
    });

    it('a refused event does not burn its key: after an upgrade the same request is accepted, not a replay', async () => {
      const o = await org('free');
      await debit([costing(o, 95)]);
      const [refused] = await debit([costing(o, 10.5, { idempotencyKey: 'later' })]);
      expect(refusal(refused)).toMatchObject({ code: 'CREDITS_EXHAUSTED' });
      expect((await ledgerState(t.dataSource, o)).keys).toBe(0);
      await organizations.changePlan(o, { plan: 'starter' });
      const [accepted] = await debit([costing(o, 10.5, { idempotencyKey: 'later' })]);
      expect(accepted.outcome).toMatchObject({ status: 'accepted', result: { duplicate: false } });
      await expectLedgerConsistent(t.dataSource, o);
    });
  });

  describe('hard caps under concurrency', () => {
    it('30 concurrent debits of 7 credits on a free plan (100, no overage) accept exactly 14, never past the cap (10 rounds)', async () => {
      for (let round = 0; round < 10; round++) {
        const o = await org('free');
        const answers = (await Promise.all(Array.from({ length: 30 }, () => debit([costing(o, 7)])))).map(([a]) => a);
        const accepted = answers.filter((a) => a.outcome.status === 'accepted');
        expect(accepted).toHaveLength(14);
        for (const a of answers.filter((x) => x.outcome.status !== 'accepted')) expect(refusal(a).code).toBe('CREDITS_EXHAUSTED');
        const state = await ledgerState(t.dataSource, o);
        expect(Number(state.balances.consumed)).toBe(98);
        await expectLedgerConsistent(t.dataSource, o);
      }
    });

    it('concurrent batches of mixed prices never pass the cap, and charge exactly what they accepted (6 rounds)', async () => {
      const prices = [1.5, 3, 4.5, 9.5, 12, 20.5];
      for (let round = 0; round < 6; round++) {
        const o = await org('free');
        const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 4 }, (_, i) => costing(o, prices[(b + i + round) % prices.length])));
        const answers = (await Promise.all(batches.map((batch) => debit(batch)))).flat();
        let charged = 0;
        for (const a of answers) {
          if (a.outcome.status === 'accepted') charged += Number(a.outcome.result.creditsConsumed);
          else expect(refusal(a).code).toBe('CREDITS_EXHAUSTED');
        }
        const consumed = Number((await ledgerState(t.dataSource, o)).balances.consumed);
        expect(consumed).toBeLessThanOrEqual(100);
        expect(consumed).toBeCloseTo(charged, 6);
        // Some were refused: the cap was really in play.
        expect(answers.some((a) => a.outcome.status === 'refused')).toBe(true);
        await expectLedgerConsistent(t.dataSource, o);
      }
    });
  });

  describe('amount bounds', () => {
    /** Input tokens that price one llm_completion at exactly MAX_EVENT_CREDITS: 0.5 + q × 0.002 = 10^9. */
    const AT_EVENT_BOUND = (MAX_EVENT_CREDITS - 0.5) / 0.002;
    const llm = (organizationId: string, inputTokens: number): TrackInput => ({ organizationId, eventType: 'llm_completion', eventData: { units: { inputTokens, outputTokens: 0 } } });

    it('an event priced one hundredth past MAX_EVENT_CREDITS is a domain error naming the bound, before any debit', async () => {
      const o = await org('enterprise');
      await expect(debit([llm(o, AT_EVENT_BOUND + 5)])).rejects.toMatchObject({ code: 'AMOUNT_OUT_OF_BOUNDS', details: { bound: 'eventCredits', max: MAX_EVENT_CREDITS } });
      await expect(debit([llm(o, 1e12)])).rejects.toBeInstanceOf(DomainError);
      expect((await ledgerState(t.dataSource, o)).events.n).toBe(0);
    });

    it('events at the event bound fill a period to MAX_PERIOD_CREDITS exactly; one more is refused with the bound, not a crash', async () => {
      const o = await org('enterprise');
      const perEvent = MAX_PERIOD_CREDITS / MAX_EVENT_CREDITS;
      const answers = await debit(Array.from({ length: perEvent }, () => llm(o, AT_EVENT_BOUND)));
      expect(answers.map((a) => a.outcome.status)).toEqual(Array(perEvent).fill('accepted'));
      expect((await ledgerState(t.dataSource, o)).balances.consumed).toMatch(/^10000000000(\.0+)?$/);
      // The smallest event past the period bound.
      const [past] = await debit([llm(o, 0)]);
      expect(refusal(past)).toMatchObject({ code: 'AMOUNT_OUT_OF_BOUNDS', details: { bound: 'periodCredits' } });
      await expectLedgerConsistent(t.dataSource, o);
    });
  });
});
