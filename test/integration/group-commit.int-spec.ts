import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../src/common/clock/clock';
import { LedgerService } from '../../src/modules/ledger/ledger.service';
import type { DebitOutcome } from '../../src/modules/ledger/ledger.service';
import { OrganizationsService } from '../../src/modules/organizations/organizations.service';
import { consumeParams, EventPreparer } from '../../src/modules/usage/event-preparer.service';
import { GroupCommit } from '../../src/modules/usage/group-commit';
import { TrackRejections } from '../../src/modules/usage/track-rejections.service';
import { UsageTracker } from '../../src/modules/usage/usage-tracker.service';
import type { Prepared, TrackInput } from '../../src/modules/usage/usage.types';
import { createOrgWith } from '../utils/factories';
import { expectLedgerConsistent, ledgerState } from '../utils/ledger-checks';
import { startTestModule } from '../utils/test-module';
import type { TestModule } from '../utils/test-module';

/**
 * Group commit over the real debit: items of several organizations share one transaction, and when that
 * transaction fails (rolled back whole), each goes again alone, so only the one that fails alone fails and
 * the others are written exactly once.
 */
describe('group commit over the ledger (integration)', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let t: TestModule;
  let ledger: LedgerService;
  let preparer: EventPreparer;
  let rejections: TrackRejections;
  let tracker: UsageTracker;
  let organizations: OrganizationsService;

  const event = (organizationId: string, extra: Partial<TrackInput> = {}): TrackInput => ({ organizationId, eventType: 'push_sow_to_loe', ...extra });
  const org = (plan: string) => createOrgWith(organizations, plan, { prefix: 'int-gc' });

  beforeAll(async () => {
    t = await startTestModule({ clock });
    ledger = t.get(LedgerService);
    preparer = t.get(EventPreparer);
    rejections = t.get(TrackRejections);
    tracker = t.get(UsageTracker);
    organizations = t.get(OrganizationsService);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A group commit whose run is one LedgerService.debit of the group (one lane: every organization shares it). */
  function debitGroup() {
    const runs: number[] = [];
    const group = new GroupCommit<Prepared, DebitOutcome>(
      async (items) => {
        runs.push(items.length);
        const now = clock.now();
        const outcomes = await ledger.debit(items, now, (p) => consumeParams(p, now), (results) => rejections.plansOf(results));
        return items.map((_, n) => outcomes.get(n)!);
      },
      { maxPerRun: 100, lanes: 1 },
    );
    return { group, runs };
  }

  async function prepared(input: TrackInput): Promise<Prepared> {
    const p = await preparer.prepare(input, 0, clock.now());
    await ledger.ensurePartition(p.periodStart);
    return p;
  }

  it('a shared run that fails on one organization\'s event fails that event alone; the others are written once', async () => {
    const orgs = [await org('enterprise'), await org('enterprise'), await org('enterprise')];
    const [first, a, c] = await Promise.all([prepared(event(orgs[0])), prepared(event(orgs[1], { idempotencyKey: 'gc-a' })), prepared(event(orgs[2]))]);
    const broken = await org('enterprise');
    // A period start the database cannot read: the debit statement of the whole group throws (not a refusal).
    const bad: Prepared = { ...(await prepared(event(broken))), periodStart: '2026-13-45' };
    const { group, runs } = debitGroup();
    // The first item runs alone at once; the three submitted meanwhile queue behind it and share the next run.
    const answers = await Promise.allSettled([group.submit(orgs[0], first), group.submit(orgs[1], a), group.submit(broken, bad), group.submit(orgs[2], c)]);
    expect(runs).toEqual([1, 3, 1, 1, 1]);
    expect(answers.map((x) => (x.status === 'fulfilled' ? x.value.status : 'failed'))).toEqual(['accepted', 'accepted', 'failed', 'accepted']);
    for (const o of orgs) {
      const state = await ledgerState(t.dataSource, o);
      expect({ org: o, events: state.events.n }).toEqual({ org: o, events: 1 });
      await expectLedgerConsistent(t.dataSource, o);
    }
    // The rolled-back shared run left nothing behind: its claimed key names the one event of the rerun.
    expect((await ledgerState(t.dataSource, orgs[1])).keys).toBe(1);
    const state = await ledgerState(t.dataSource, broken);
    expect({ events: state.events.n, consumed: Number(state.balances.consumed) }).toEqual({ events: 0, consumed: 0 });
  });

  it('a refusal in a shared run is that event\'s answer, not a failure of the run: the others are accepted in the same run', async () => {
    const [rich, poor] = [await org('enterprise'), await org('free')];
    // The free plan's 100 credits, spent.
    await tracker.track({ organizationId: poor, eventType: 'llm_completion', eventData: { units: { inputTokens: 49_750, outputTokens: 0 } } });
    const items = await Promise.all([prepared(event(rich)), prepared(event(rich)), prepared(event(poor)), prepared(event(rich))]);
    const { group, runs } = debitGroup();
    const answers = await Promise.all(items.map((p) => group.submit(p.input.organizationId, p)));
    expect(runs).toEqual([1, 3]);
    expect(answers.map((x) => x.status)).toEqual(['accepted', 'accepted', 'refused', 'accepted']);
    expect((await ledgerState(t.dataSource, rich)).events.n).toBe(3);
    await expectLedgerConsistent(t.dataSource, rich);
    await expectLedgerConsistent(t.dataSource, poor);
  });

  it('the tracker\'s own group: concurrent single events of several organizations, an unknown one among them, fail only that one (5 rounds)', async () => {
    const orgs = [await org('enterprise'), await org('starter'), await org('professional')];
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.allSettled([...orgs.flatMap((o) => [tracker.track(event(o)), tracker.track(event(o, { idempotencyKey: `r-${round}` }))]), tracker.track(event('int-gc-nobody'))]);
      expect(answers.slice(0, 6).map((x) => x.status)).toEqual(Array(6).fill('fulfilled'));
      expect(answers[6]).toMatchObject({ status: 'rejected', reason: { code: 'ORGANIZATION_NOT_FOUND' } });
    }
    for (const o of orgs) {
      expect((await ledgerState(t.dataSource, o)).events.n).toBe(10);
      await expectLedgerConsistent(t.dataSource, o);
    }
  });

  it('hard caps hold when organizations share the tracker\'s group: 4 free organizations × 20 concurrent events of 7 credits, 14 each', async () => {
    const orgs = await Promise.all(Array.from({ length: 4 }, () => org('free')));
    const seven = { units: { inputTokens: 3_250, outputTokens: 0 } };
    const answers = await Promise.allSettled(orgs.flatMap((o) => Array.from({ length: 20 }, () => tracker.track({ organizationId: o, eventType: 'llm_completion', eventData: seven }))));
    for (const a of answers) if (a.status === 'rejected') expect(a.reason).toMatchObject({ code: 'CREDITS_EXHAUSTED' });
    for (const o of orgs) {
      const state = await ledgerState(t.dataSource, o);
      expect({ org: o, events: state.events.n, consumed: Number(state.balances.consumed) }).toEqual({ org: o, events: 14, consumed: 98 });
      await expectLedgerConsistent(t.dataSource, o);
    }
  });
});
