import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../src/common/clock/clock';
import { MAX_EVENT_CREDITS } from '../../src/common/money/bounds';
import { OrganizationsService } from '../../src/modules/organizations/organizations.service';
import { ReservationsService } from '../../src/modules/usage/reservations.service';
import { UsageTracker } from '../../src/modules/usage/usage-tracker.service';
import { createOrgWith, llmEventCosting, llmUnitsCosting } from '../utils/factories';
import { expectLedgerConsistent, ledgerState } from '../utils/ledger-checks';
import { startTestModule } from '../utils/test-module';
import type { TestModule } from '../utils/test-module';

/**
 * Holds through ReservationsService over LedgerService's verbs (hold, extend, settle, release, refund),
 * against a real database, without HTTP. Time moves by the injected clock: a hold expires because the clock
 * says so, never by sleeping. The seeded llm_completion costs 0.5 + 0.002 per input token.
 */
describe('reservations over the ledger (integration)', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let t: TestModule;
  let reservations: ReservationsService;
  let tracker: UsageTracker;
  let organizations: OrganizationsService;

  const tokens = llmUnitsCosting;
  const hold = llmEventCosting;
  const consumed = async (o: string) => Number((await ledgerState(t.dataSource, o)).balances.consumed);
  const org = (plan: string) => createOrgWith(organizations, plan, { prefix: 'int-hold' });

  beforeAll(async () => {
    t = await startTestModule({ clock });
    reservations = t.get(ReservationsService);
    tracker = t.get(UsageTracker);
    organizations = t.get(OrganizationsService);
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('hold then settle', () => {
    it('at the held price: the event takes the hold over, charged once', async () => {
      const o = await org('starter');
      const r = await reservations.reserve(hold(o, 2.5));
      expect(await consumed(o)).toBe(2.5);
      const result = await reservations.commit(o, r.reservationId);
      expect(result.creditsConsumed).toBe(2.5);
      const state = await ledgerState(t.dataSource, o);
      expect({ events: state.events.n, pending: state.reserved.n, consumed: Number(state.balances.consumed) }).toEqual({ events: 1, pending: 0, consumed: 2.5 });
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('above the hold: the hold is given back and the final price charged', async () => {
      const o = await org('starter');
      const r = await reservations.reserve(hold(o, 2.5));
      const result = await reservations.commit(o, r.reservationId, tokens(10.5));
      expect(result.creditsConsumed).toBe(10.5);
      expect(await consumed(o)).toBe(10.5);
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('below the hold: only the final price is charged, the rest comes back', async () => {
      const o = await org('starter');
      const r = await reservations.reserve(hold(o, 10.5));
      const result = await reservations.commit(o, r.reservationId, tokens(1));
      expect(result.creditsConsumed).toBe(1);
      expect(await consumed(o)).toBe(1);
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('above what the hard cap leaves: refused (CREDITS_EXHAUSTED), the hold stays pending and whole, and still settles as held', async () => {
      const o = await org('free');
      await tracker.track(hold(o, 95));
      const r = await reservations.reserve(hold(o, 2.5));
      await expect(reservations.commit(o, r.reservationId, tokens(10.5))).rejects.toMatchObject({ code: 'CREDITS_EXHAUSTED' });
      const state = await ledgerState(t.dataSource, o);
      expect({ pending: state.reserved.n, held: Number(state.reserved.credits), consumed: Number(state.balances.consumed) }).toEqual({ pending: 1, held: 2.5, consumed: 97.5 });
      await expectLedgerConsistent(t.dataSource, o);
      await reservations.commit(o, r.reservationId, tokens(2.5));
      expect(await consumed(o)).toBe(97.5);
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('concurrent holds on a hard cap never hold past it (8 rounds of 20 holds of 9 credits: 11 held each round)', async () => {
      for (let round = 0; round < 8; round++) {
        const o = await org('free');
        const answers = await Promise.allSettled(Array.from({ length: 20 }, () => reservations.reserve(hold(o, 9))));
        expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(11);
        for (const a of answers) if (a.status === 'rejected') expect(a.reason).toMatchObject({ code: 'CREDITS_EXHAUSTED' });
        expect(await consumed(o)).toBe(99);
        await expectLedgerConsistent(t.dataSource, o);
      }
    });
  });

  describe('replays of a hold', () => {
    it('the same key and request again (and concurrently) is the same hold, held once: never a false conflict', async () => {
      const o = await org('starter');
      const first = await reservations.reserve(hold(o, 3, { idempotencyKey: 'h1' }));
      const again = await Promise.all(Array.from({ length: 5 }, () => reservations.reserve(hold(o, 3, { idempotencyKey: 'h1' }))));
      for (const a of again) expect(a).toMatchObject({ reservationId: first.reservationId, duplicate: true, status: 'pending' });
      expect(await consumed(o)).toBe(3);
      await expect(reservations.reserve(hold(o, 4, { idempotencyKey: 'h1' }))).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('concurrent first attempts of one key make one hold (6 rounds)', async () => {
      const o = await org('enterprise');
      for (let round = 0; round < 6; round++) {
        const answers = await Promise.all(Array.from({ length: 5 }, () => reservations.reserve(hold(o, 2, { idempotencyKey: `race-${round}` }))));
        expect(new Set(answers.map((a) => a.reservationId)).size).toBe(1);
        expect(answers.filter((a) => !a.duplicate)).toHaveLength(1);
      }
      const state = await ledgerState(t.dataSource, o);
      expect({ pending: state.reserved.n, consumed: Number(state.balances.consumed) }).toEqual({ pending: 6, consumed: 12 });
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('a second commit of a committed hold is RESERVATION_SETTLED with the winning charge, and charges nothing more', async () => {
      const o = await org('starter');
      const r = await reservations.reserve(hold(o, 2.5));
      const won = await reservations.commit(o, r.reservationId);
      await expect(reservations.commit(o, r.reservationId)).rejects.toMatchObject({ code: 'RESERVATION_SETTLED', details: { status: 'committed', eventId: won.eventId, creditsConsumed: 2.5 } });
      expect((await ledgerState(t.dataSource, o)).events.n).toBe(1);
    });
  });

  describe('extend', () => {
    it('grows the hold by the difference; the same target again adds nothing; past the cap it is refused and the hold stays', async () => {
      const o = await org('free');
      const r = await reservations.reserve(hold(o, 2.5));
      const grown = await reservations.extend(o, r.reservationId, tokens(6.5));
      expect({ credits: grown.credits, added: grown.addedCredits }).toEqual({ credits: 6.5, added: 4 });
      const retried = await reservations.extend(o, r.reservationId, tokens(6.5));
      expect(retried.addedCredits).toBe(0);
      expect(await consumed(o)).toBe(6.5);
      await expect(reservations.extend(o, r.reservationId, tokens(150))).rejects.toMatchObject({ code: 'CREDITS_EXHAUSTED' });
      expect(Number((await ledgerState(t.dataSource, o)).reserved.credits)).toBe(6.5);
      await expectLedgerConsistent(t.dataSource, o);
      const result = await reservations.commit(o, r.reservationId, tokens(6.5));
      expect(result.creditsConsumed).toBe(6.5);
      expect(await consumed(o)).toBe(6.5);
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('pushes the expiry out by the clock, so a hold extended in time does not expire', async () => {
      const o = await org('starter');
      const r = await reservations.reserve(hold(o, 2.5), 60);
      clock.advance(50_000);
      const extended = await reservations.extend(o, r.reservationId, tokens(2.5), 60);
      expect(new Date(extended.expiresAt).getTime()).toBe(clock.now().getTime() + 60_000);
      clock.advance(50_000);
      // 100 s after the hold, past its first TTL, inside the extended one.
      expect((await reservations.commit(o, r.reservationId)).creditsConsumed).toBe(2.5);
    });
  });

  describe('release, expiry and refund', () => {
    it('releasing an expired hold answers RESERVATION_SETTLED (expired), gives the credits back once and frees the key', async () => {
      const o = await org('starter');
      const r = await reservations.reserve(hold(o, 5, { idempotencyKey: 'exp' }), 60);
      clock.advance(61_000);
      await expect(reservations.release(o, r.reservationId)).rejects.toMatchObject({ code: 'RESERVATION_SETTLED', details: { status: 'expired' } });
      await expect(reservations.commit(o, r.reservationId)).rejects.toMatchObject({ code: 'RESERVATION_SETTLED', details: { status: 'expired' } });
      expect(await consumed(o)).toBe(0);
      await expectLedgerConsistent(t.dataSource, o);
      // The key charged nothing: a later attempt holds anew.
      const anew = await reservations.reserve(hold(o, 5, { idempotencyKey: 'exp' }));
      expect(anew).toMatchObject({ duplicate: false });
      expect(anew.reservationId).not.toBe(r.reservationId);
      expect(await consumed(o)).toBe(5);
    });

    it('the sweep expires due holds once; running it again gives nothing back twice', async () => {
      const o = await org('starter');
      await reservations.reserve(hold(o, 4), 60);
      await reservations.reserve(hold(o, 6), 120);
      clock.advance(61_000);
      await reservations.expireDue();
      expect(await consumed(o)).toBe(6);
      await reservations.expireDue();
      expect(await consumed(o)).toBe(6);
      clock.advance(60_000);
      await reservations.expireDue();
      await reservations.expireDue();
      expect(await consumed(o)).toBe(0);
      const [statuses] = await t.dataSource.query(`SELECT count(*) FILTER (WHERE status = 'expired')::int AS expired, count(*)::int AS n FROM reservations WHERE organization_id = $1`, [o]);
      expect(statuses).toEqual({ expired: 2, n: 2 });
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('refund twice: a second release (and the sweep after it) gives nothing back again', async () => {
      const o = await org('starter');
      await tracker.track(hold(o, 10));
      const r = await reservations.reserve(hold(o, 5), 60);
      expect(await reservations.release(o, r.reservationId)).toMatchObject({ status: 'released', releasedCredits: 5 });
      await expect(reservations.release(o, r.reservationId)).rejects.toMatchObject({ code: 'RESERVATION_SETTLED', details: { status: 'released' } });
      clock.advance(61_000);
      await reservations.expireDue();
      await expect(reservations.commit(o, r.reservationId)).rejects.toMatchObject({ code: 'RESERVATION_SETTLED', details: { status: 'released' } });
      // Never below what the tracked event charged: the hold was given back exactly once.
      expect(await consumed(o)).toBe(10);
      await expectLedgerConsistent(t.dataSource, o);
    });

    it('concurrent releases of one hold: one releases, the others are told it is settled (6 rounds)', async () => {
      const o = await org('starter');
      await tracker.track(hold(o, 10));
      for (let round = 0; round < 6; round++) {
        const r = await reservations.reserve(hold(o, 5));
        const answers = await Promise.allSettled(Array.from({ length: 4 }, () => reservations.release(o, r.reservationId)));
        expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
        for (const a of answers) if (a.status === 'rejected') expect(a.reason).toMatchObject({ code: 'RESERVATION_SETTLED' });
        expect(await consumed(o)).toBe(10);
      }
      await expectLedgerConsistent(t.dataSource, o);
    });
  });

  describe('bounds', () => {
    it('a hold priced past MAX_EVENT_CREDITS is a domain error naming the bound, nothing held', async () => {
      const o = await org('enterprise');
      const past = { units: { inputTokens: (MAX_EVENT_CREDITS - 0.5) / 0.002 + 5, outputTokens: 0 } };
      await expect(reservations.reserve({ organizationId: o, eventType: 'llm_completion', eventData: past })).rejects.toMatchObject({ code: 'AMOUNT_OUT_OF_BOUNDS', details: { bound: 'eventCredits' } });
      const r = await reservations.reserve(hold(o, 1));
      await expect(reservations.commit(o, r.reservationId, past)).rejects.toMatchObject({ code: 'AMOUNT_OUT_OF_BOUNDS' });
      await expect(reservations.extend(o, r.reservationId, past)).rejects.toMatchObject({ code: 'AMOUNT_OUT_OF_BOUNDS' });
      expect(Number((await ledgerState(t.dataSource, o)).reserved.credits)).toBe(1);
      await expectLedgerConsistent(t.dataSource, o);
    });
  });
});
