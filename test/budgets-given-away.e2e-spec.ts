import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { expectLedgerConsistent } from './utils/ledger-checks';
import { ADMIN, startInstancePair } from './utils/test-app';
import type { InstancePair, TestApp } from './utils/test-app';
import { createOrg as newOrg, issueKey } from './utils/factories';
import type { IssuedKey } from './utils/factories';
import type { ApiKeyScope } from '../src/common/auth/auth.decorators';

/**
 * Budgets that gave credits away: a daily budget stretched by backdated events (its window was the UTC day of
 * occurredAt), and a key that lifted the budget limiting it. Each test failed on the code before the fix and
 * checks the ledger invariants afterwards; on PostgreSQL the requests alternate between two app instances.
 */
describe('budgets give nothing away', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let a: TestApp;
  let b: TestApp;
  let pair: InstancePair | undefined;

  beforeAll(async () => {
    pair = await startInstancePair({ clock });
    ({ a, b } = pair);
  });
  afterAll(async () => {
    await pair?.close();
  });

  const createOrg = (plan = 'professional'): Promise<string> => newOrg(a, plan, { prefix: 'given' });
  const createKey = (org: string, scopes: ApiKeyScope[] = ['track', 'read', 'manage'], userId?: string): Promise<IssuedKey> => issueKey(a, org, scopes, { userId, name: `key-${scopes.join('+')}` });
  const adminBudgets = (org: string) => `/api/admin/organizations/${org}/budgets`;
  const budget = async (org: string, body: Record<string, unknown>) => (await a.http().post(adminBudgets(org)).set(ADMIN).send(body).expect(201)).body as { id: string };
  const track = (t: TestApp, org: string, auth: Record<string, string>, body: Record<string, unknown>) => t.http().post(`/api/organizations/${org}/usage/events`).set(auth).send(body);
  const statuses = (body: { results: Array<{ status: string; error?: { error: string } }> }) => body.results.map((r) => r.error?.error ?? r.status);
  const daysBefore = (now: Date, days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();

  /**
   * What each window of the organization's budgets holds, against what the ledger charged to its subject on
   * that UTC day of recording (the charge time): equal, and never above the limit.
   */
  async function expectBudgetWindowsMatchLedger(org: string): Promise<void> {
    const rows = (await a.dataSource.query(
      `SELECT b.scope, b.subject, u.window_start::text AS window, u.used::text AS used, b.credits::text AS credits,
              (SELECT coalesce(sum(e.credits), 0) FROM usage_events e
                WHERE e.organization_id = b.organization_id
                  AND (e.recorded_at AT TIME ZONE 'UTC')::date = u.window_start
                  AND CASE b.scope WHEN 'apiKey' THEN e.api_key_id = b.subject ELSE e.user_id = b.subject END)::text AS charged
         FROM budgets b JOIN budget_usage u ON u.organization_id = b.organization_id AND u.budget_id = b.id
        WHERE b.organization_id = $1 AND b.period = 'day'`,
      [org],
    )) as Array<{ used: string; credits: string; charged: string }>;
    for (const r of rows) {
      expect({ ...r, used: Number(r.used), charged: Number(r.charged) }).toEqual({ ...r, used: Number(r.charged), charged: Number(r.charged) });
      expect(Number(r.used)).toBeLessThanOrEqual(Number(r.credits));
    }
  }

  describe('6. a daily budget counts by when the charge is made, never by occurredAt', () => {
    it('spent today, backdated batches in the same minute are refused 402 BUDGET_EXCEEDED (failed before: 30 credits on a 5-credit daily budget)', async () => {
      clock.set('2026-11-15T12:00:00.000Z');
      const org = await createOrg();
      const key = await createKey(org);
      const daily = await budget(org, { scope: 'apiKey', subject: key.id, credits: 5, period: 'day' });
      const today = await track(a, org, key.headers, { events: Array.from({ length: 5 }, () => ({ eventType: 'push_sow_to_loe' })) }).expect(200);
      expect(statuses(today.body)).toEqual(Array(5).fill('accepted'));
      // Five batches, each dated 1 to 5 days earlier (all inside the open period), within the same real minute.
      for (let d = 1; d <= 5; d++) {
        clock.advance(5_000);
        const occurredAt = daysBefore(clock.now(), d);
        const res = await track(d % 2 ? b : a, org, key.headers, { events: Array.from({ length: 5 }, () => ({ eventType: 'push_sow_to_loe', occurredAt })) }).expect(200);
        expect(statuses(res.body)).toEqual(Array(5).fill('BUDGET_EXCEEDED'));
      }
      // A single backdated event, and the quote, say the same.
      const single = await track(b, org, key.headers, { eventType: 'push_sow_to_loe', occurredAt: daysBefore(clock.now(), 3) }).expect(402);
      expect(single.body).toMatchObject({ error: 'BUDGET_EXCEEDED', details: { budgetId: daily.id, scope: 'apiKey', subject: key.id, credits: 5, used: 5 } });
      const check = await a.http().post(`/api/organizations/${org}/usage/check`).set(key.headers).send({ eventType: 'push_sow_to_loe', occurredAt: daysBefore(clock.now(), 2) }).expect(200);
      expect(check.body).toMatchObject({ fits: false, reason: 'BUDGET_EXCEEDED' });
      const events = await a.dataSource.query(`SELECT count(*)::int AS n, sum(credits)::text AS credits FROM usage_events WHERE organization_id = $1`, [org]);
      expect(events).toEqual([{ n: 5, credits: '5.000000' }]);
      expect((await a.http().get(`${adminBudgets(org)}/${daily.id}`).set(ADMIN).expect(200)).body).toMatchObject({ used: 5, remaining: 0 });
      await expectBudgetWindowsMatchLedger(org);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('a clock just past midnight UTC opens a fresh window, whatever day the events say', async () => {
      clock.set('2026-11-20T23:59:59.000Z');
      const org = await createOrg();
      const key = await createKey(org);
      const kb = await budget(org, { scope: 'apiKey', subject: key.id, credits: 5, period: 'day' });
      const mb = await budget(org, { scope: 'user', subject: 'bob', credits: 3, period: 'day' });
      await track(a, org, key.headers, { events: Array.from({ length: 3 }, () => ({ eventType: 'push_sow_to_loe', userId: 'bob' })) }).expect(200);
      const keyed = { events: Array.from({ length: 2 }, (_, i) => ({ eventType: 'push_sow_to_loe', idempotencyKey: `late-${i}` })) };
      await track(b, org, key.headers, keyed).expect(200);
      await track(a, org, key.headers, { eventType: 'push_sow_to_loe', occurredAt: '2026-11-19T10:00:00.000Z' }).expect(402);
      await track(a, org, ADMIN, { eventType: 'push_sow_to_loe', userId: 'bob', occurredAt: '2026-11-18T10:00:00.000Z' }).expect(402);

      clock.set('2026-11-21T00:00:00.001Z');
      // A replay of yesterday's accepted events after midnight is a duplicate: it takes nothing from today's window.
      const replay = await track(a, org, key.headers, keyed).expect(200);
      expect(statuses(replay.body)).toEqual(['duplicate', 'duplicate']);
      // Events dated yesterday (the full window's day) go into today's window: 5 for the key, 3 for bob.
      const res = await track(b, org, key.headers, { events: Array.from({ length: 6 }, () => ({ eventType: 'push_sow_to_loe', occurredAt: '2026-11-20T23:00:00.000Z' })) }).expect(200);
      expect(statuses(res.body)).toEqual([...Array(5).fill('accepted'), 'BUDGET_EXCEEDED']);
      const members = await track(a, org, ADMIN, { events: Array.from({ length: 4 }, () => ({ eventType: 'push_sow_to_loe', userId: 'bob', occurredAt: '2026-11-20T12:00:00.000Z' })) }).expect(200);
      expect(statuses(members.body)).toEqual([...Array(3).fill('accepted'), 'BUDGET_EXCEEDED']);
      const windows = await a.dataSource.query(`SELECT budget_id::text AS budget, window_start::text AS window, used::text AS used FROM budget_usage WHERE organization_id = $1 ORDER BY 1, 2`, [org]);
      expect(windows).toEqual(
        [
          { budget: kb.id, window: '2026-11-20', used: '5.000000' },
          { budget: kb.id, window: '2026-11-21', used: '5.000000' },
          { budget: mb.id, window: '2026-11-20', used: '3.000000' },
          { budget: mb.id, window: '2026-11-21', used: '3.000000' },
        ].sort((x, y) => (x.budget + x.window).localeCompare(y.budget + y.window)),
      );
      await expectBudgetWindowsMatchLedger(org);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it("in the first hour of a month, the previous month's days (still open for the grace window) do not widen it", async () => {
      clock.set('2026-12-01T00:10:00.000Z');
      const org = await createOrg();
      const key = await createKey(org);
      await budget(org, { scope: 'apiKey', subject: key.id, credits: 5, period: 'day' });
      await track(a, org, key.headers, { events: Array.from({ length: 5 }, () => ({ eventType: 'push_sow_to_loe' })) }).expect(200);
      let accepted = 0;
      for (let d = 1; d <= 30; d++) {
        const res = await track(d % 2 ? a : b, org, key.headers, { events: [{ eventType: 'push_sow_to_loe', occurredAt: `2026-11-${String(d).padStart(2, '0')}T12:00:00.000Z` }] }).expect(200);
        accepted += res.body.results.filter((r: { status: string }) => r.status === 'accepted').length;
      }
      expect(accepted).toBe(0);
      const events = await a.dataSource.query(`SELECT period_start::text AS period, count(*)::int AS n FROM usage_events WHERE organization_id = $1 GROUP BY 1`, [org]);
      expect(events).toEqual([{ period: '2026-12-01', n: 5 }]);
      await expectBudgetWindowsMatchLedger(org);
      await expectLedgerConsistent(a.dataSource, org);
    });
  });

  describe('6b. a monthly budget counts by the month the charge is made', () => {
    it("late events of the previous month (inside its grace window) count toward this month's window, so they never open a second month's worth (failed before: 5 more credits)", async () => {
      clock.set('2026-12-01T00:10:00.000Z');
      const org = await createOrg();
      const key = await createKey(org);
      const monthly = await budget(org, { scope: 'apiKey', subject: key.id, credits: 5, period: 'month' });
      await track(a, org, key.headers, { events: Array.from({ length: 5 }, () => ({ eventType: 'push_sow_to_loe' })) }).expect(200);
      // The previous period still takes late events for PERIOD_CLOSE_GRACE_MINUTES: they are charged now, in December.
      const late = await track(b, org, key.headers, { events: Array.from({ length: 5 }, (_, i) => ({ eventType: 'push_sow_to_loe', occurredAt: `2026-11-30T1${i}:00:00.000Z` })) }).expect(200);
      expect(statuses(late.body)).toEqual(Array(5).fill('BUDGET_EXCEEDED'));
      const windows = await a.dataSource.query(`SELECT window_start::text AS window, used::text AS used FROM budget_usage WHERE organization_id = $1 AND budget_id = $2`, [org, monthly.id]);
      expect(windows).toEqual([{ window: '2026-12-01', used: '5.000000' }]);
      expect((await a.http().get(`${adminBudgets(org)}/${monthly.id}`).set(ADMIN).expect(200)).body).toMatchObject({ used: 5, remaining: 0 });
      // A fresh month opens a fresh window, whatever month the events say.
      clock.set('2027-01-01T00:05:00.000Z');
      const next = await track(a, org, key.headers, { events: [{ eventType: 'push_sow_to_loe', occurredAt: '2026-12-31T23:59:00.000Z' }] }).expect(200);
      expect(statuses(next.body)).toEqual(['accepted']);
      await expectLedgerConsistent(a.dataSource, org);
    });
  });

  describe('7. a key never changes a budget that limits it', () => {
    const own = (org: string) => `/api/organizations/${org}/budgets`;
    const budgetsOf = async (org: string) =>
      (await a.dataSource.query(`SELECT scope, subject, period, credits::text AS credits, updated_at FROM budgets WHERE organization_id = $1 ORDER BY scope, subject, period`, [org])) as unknown[];

    it('create, raise (PATCH) and delete of a budget on the key itself, or on the member it belongs to: 403 BUDGET_APPLIES_TO_CALLER, nothing written (failed before: 10 -> 1,000,000 credits, 200)', async () => {
      clock.set('2026-11-15T12:00:00.000Z');
      const org = await createOrg();
      await a.http().post(`/api/admin/organizations/${org}/members`).set(ADMIN).send({ userId: 'u-1', role: 'member' }).expect(201);
      const key = await createKey(org, ['track', 'read', 'manage'], 'u-1');
      const onKey = await budget(org, { scope: 'apiKey', subject: key.id, credits: 10, period: 'day' });
      const onMember = await budget(org, { scope: 'user', subject: 'u-1', credits: 10, period: 'month' });
      const before = await budgetsOf(org);
      const refusals = [
        await b.http().patch(`${own(org)}/${onKey.id}`).set(key.headers).send({ credits: 1_000_000 }),
        await a.http().patch(`${own(org)}/${onMember.id}`).set(key.headers).send({ credits: 1_000_000 }),
        await b.http().delete(`${own(org)}/${onKey.id}`).set(key.headers),
        await a.http().delete(`${own(org)}/${onMember.id}`).set(key.headers),
        await b.http().post(own(org)).set(key.headers).send({ scope: 'apiKey', subject: key.id, credits: 1_000_000, period: 'month' }),
        await a.http().post(own(org)).set(key.headers).send({ scope: 'user', subject: 'u-1', credits: 1_000_000, period: 'day' }),
      ];
      for (const r of refusals) {
        expect(r.status).toBe(403);
        expect(r.body).toMatchObject({ statusCode: 403, error: 'BUDGET_APPLIES_TO_CALLER', details: { apiKeyId: key.id } });
      }
      // A retry is refused the same; nothing was written, and the key is still held to 10 credits a day.
      await a.http().patch(`${own(org)}/${onKey.id}`).set(key.headers).send({ credits: 1_000_000 }).expect(403);
      expect(await budgetsOf(org)).toEqual(before);
      const res = await track(b, org, key.headers, { events: Array.from({ length: 11 }, () => ({ eventType: 'push_sow_to_loe' })) }).expect(200);
      expect(statuses(res.body)).toEqual([...Array(10).fill('accepted'), 'BUDGET_EXCEEDED']);
      // Reading them stays allowed.
      expect((await a.http().get(`${own(org)}/${onKey.id}`).set(key.headers).expect(200)).body).toMatchObject({ credits: 10, used: 10 });
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('the admin key, and another key with manage, may create, raise and delete them', async () => {
      const org = await createOrg();
      await a.http().post(`/api/admin/organizations/${org}/members`).set(ADMIN).send({ userId: 'u-2', role: 'member' }).expect(201);
      const key = await createKey(org, ['track', 'manage'], 'u-2');
      const other = await createKey(org, ['manage']);
      const onKey = (await b.http().post(own(org)).set(other.headers).send({ scope: 'apiKey', subject: key.id, credits: 10, period: 'day' }).expect(201)).body;
      const onMember = (await a.http().post(own(org)).set(other.headers).send({ scope: 'user', subject: 'u-2', credits: 10, period: 'day' }).expect(201)).body;
      await a.http().patch(`${own(org)}/${onKey.id}`).set(other.headers).send({ credits: 20 }).expect(200);
      await b.http().patch(`${adminBudgets(org)}/${onMember.id}`).set(ADMIN).send({ credits: 30 }).expect(200);
      expect((await budgetsOf(org)).map((r) => (r as { credits: string }).credits)).toEqual(['20.00', '30.00']);
      // The key may still manage budgets that do not limit it: another member's, another key's.
      const third = (await a.http().post(own(org)).set(key.headers).send({ scope: 'user', subject: 'someone-else', credits: 5, period: 'month' }).expect(201)).body;
      const otherKeys = (await a.http().post(own(org)).set(key.headers).send({ scope: 'apiKey', subject: other.id, credits: 5, period: 'month' }).expect(201)).body;
      await a.http().patch(`${own(org)}/${third.id}`).set(key.headers).send({ credits: 6 }).expect(200);
      await a.http().delete(`${own(org)}/${otherKeys.id}`).set(key.headers).expect(200);
      await b.http().delete(`${own(org)}/${onKey.id}`).set(other.headers).expect(200);
      await a.http().delete(`${adminBudgets(org)}/${onMember.id}`).set(ADMIN).expect(200);
      expect(await budgetsOf(org)).toEqual([expect.objectContaining({ scope: 'user', subject: 'someone-else', credits: '6.00' })]);
    });

    it('a key belongs to a member of the organization only; the member is shown with the key', async () => {
      const org = await createOrg();
      await a.http().post(`/api/admin/organizations/${org}/members`).set(ADMIN).send({ userId: 'u-3', role: 'viewer' }).expect(201);
      const refused = await a.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name: 'k', scopes: ['track'], userId: 'stranger' }).expect(403);
      expect(refused.body.error).toBe('USER_NOT_MEMBER');
      await a.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name: 'k', scopes: ['track'], userId: 'x'.repeat(129) }).expect(400);
      // The longest userId the bounds allow is stored whole (an organization without members takes any).
      const open = await createOrg();
      const longest = await createKey(open, ['track'], 'x'.repeat(128));
      expect((await a.dataSource.query(`SELECT length(user_id)::int AS n FROM api_keys WHERE id = $1`, [longest.id]))[0].n).toBe(128);
      const key = await createKey(org, ['read'], 'u-3');
      const listed = await a.http().get(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).expect(200);
      expect(listed.body.items).toEqual([expect.objectContaining({ id: key.id, userId: 'u-3' })]);
    });
  });
});
