import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import fc from 'fast-check';
import { MicroCredits1764300031000 } from '../migrations/1764300031000-MicroCredits';
import { FakeClock } from '../src/common/clock/clock';
import { expectLedgerConsistent } from './utils/ledger-checks';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { createOrg as newOrg } from './utils/factories';

/**
 * Token events never round to free: the ledger keeps what an event costs below a hundredth (micro-credits in
 * events, balances, rollups, top-ups and holds) and rounds only where money is shown or invoiced, once.
 *
 * Failed before: 1,000 events of 49 tokens at 0.0001 credits per token were charged 0 in all (each rounded
 * half-up to hundredths on its own: 0.0049 -> 0.00), against 4.90 for the same tokens in one event.
 */
describe('micro-credits', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  const suffix = Math.random().toString(36).slice(2, 7);
  const tiny = `tiny_tokens_${suffix}`;

  const track = (org: string, body: Record<string, unknown>) => t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send(body);
  const get = (path: string) => t.http().get(path).set(ADMIN);
  const used = async (org: string): Promise<number> => (await get(`/api/organizations/${org}/usage`).expect(200)).body.used;
  const exact = async (org: string): Promise<string> => {
    const [b] = await t.dataSource.query(`SELECT coalesce(sum(consumed), 0)::text AS consumed FROM period_balances WHERE organization_id = $1`, [org]);
    return new Big(b.consumed).toString();
  };

  const createOrg = (plan = 'starter'): Promise<string> => newOrg(t, plan, { prefix: 'micro' });

  async function createDefinition(eventType: string, rate: number): Promise<void> {
    await t.http().post('/api/admin/events').set(ADMIN).send({ eventType, displayName: eventType, category: 'ai_llm', baseCredits: 0, units: { tokens: rate } }).expect(201);
  }

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await createDefinition(tiny, 0.0001);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('existing data migrates exactly: every ledger amount of the old numeric(18,2) schema keeps its value', async () => {
    // First in the file: the database then holds only two-decimal amounts, as before the migration.
    const org = await createOrg();
    await t.http().post(`/api/admin/organizations/${org}/credits`).set(ADMIN).send({ amount: 12.34, reason: 'before' }).expect(201);
    for (const eventType of ['solutioning_hyper_canvas', 'visuals_sketch', 'push_sow_to_loe']) await track(org, { eventType, eventData: { complexity: 1.37 } }).expect(201);
    for (let i = 0; i < 60; i++) await track(org, { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201); // into top-ups and overage
    const hold = await t.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).send({ eventType: 'visuals_sketch' }).expect(201);
    const snapshot = async () => ({
      events: await t.dataSource.query(`SELECT credits::numeric(30,6)::text, from_allowance::numeric(30,6)::text, from_grants::numeric(30,6)::text, overage::numeric(30,6)::text FROM usage_events WHERE organization_id = $1 ORDER BY id`, [org]),
      balances: await t.dataSource.query(`SELECT allowance_used::numeric(30,6)::text, grants_used::numeric(30,6)::text, overage_used::numeric(30,6)::text, consumed::numeric(30,6)::text FROM period_balances WHERE organization_id = $1`, [org]),
      grants: await t.dataSource.query(`SELECT remaining::numeric(30,6)::text FROM credit_grants WHERE organization_id = $1`, [org]),
      takes: await t.dataSource.query(`SELECT credits::numeric(30,6)::text FROM grant_consumptions WHERE organization_id = $1 ORDER BY event_id`, [org]),
      rollups: await t.dataSource.query(`SELECT credits::numeric(30,6)::text, overage::numeric(30,6)::text FROM usage_rollups_daily WHERE organization_id = $1 ORDER BY event_type`, [org]),
      holds: await t.dataSource.query(`SELECT credits::numeric(30,6)::text, consumed_after::numeric(30,6)::text, remaining_after::numeric(30,6)::text FROM reservations WHERE organization_id = $1`, [org]),
    });
    const before = await snapshot();
    expect(before.events.length).toBe(63);
    expect(before.takes.length).toBeGreaterThan(0);
    // Back to the old column types (every value here has two decimals, so this is exact too) ... Tables born
    // with numeric(22,6) after that migration (runs) had no old type: they stay as they are.
    const columns = (await t.dataSource.query(
      `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND numeric_scale = 6 AND table_name NOT LIKE 'usage_events_%' AND table_name <> 'runs' ORDER BY 1, 2`,
    )) as Array<{ table_name: string; column_name: string }>;
    expect(columns.length).toBe(23);
    for (const c of columns) await t.dataSource.query(`ALTER TABLE ${c.table_name} ALTER COLUMN ${c.column_name} TYPE numeric(18,2)`);
    const [old] = await t.dataSource.query(`SELECT credits::text FROM usage_events WHERE organization_id = $1 LIMIT 1`, [org]);
    expect(old.credits).toMatch(/^\d+\.\d\d$/);
    // ... and forward again with the migration itself.
    const runner = t.dataSource.createQueryRunner();
    try {
      await new MicroCredits1764300031000().up(runner);
    } finally {
      await runner.release();
    }
    expect(await snapshot()).toEqual(before);
    const [now] = await t.dataSource.query(`SELECT credits::text FROM usage_events WHERE organization_id = $1 LIMIT 1`, [org]);
    expect(now.credits).toMatch(/^\d+\.\d{6}$/);
    await expectLedgerConsistent(t.dataSource, org);
    // The migrated hold gives back exactly what it took.
    await t.http().post(`/api/organizations/${org}/usage/reservations/${hold.body.reservationId}/release`).set(ADMIN).send({}).expect(200);
    await expectLedgerConsistent(t.dataSource, org);
  });

  /** The two organizations of the 4.90 test, invoiced by the close at the end. */
  let tinyOrgs: string[] = [];
  it('charges 1,000 events of 49 tokens at 0.0001 credits 4.90 in all, the same as one event of 49,000 tokens', async () => {
    const many = await createOrg();
    const res = await track(many, { events: Array.from({ length: 1000 }, () => ({ eventType: tiny, eventData: { units: { tokens: 49 } } })) }).expect(200);
    expect(new Set(res.body.results.map((r: { status: string }) => r.status))).toEqual(new Set(['accepted']));
    const [row] = await t.dataSource.query(`SELECT credits::text, count(*) OVER ()::int AS n, sum(credits) OVER ()::text AS total FROM usage_events WHERE organization_id = $1 LIMIT 1`, [many]);
    expect(row).toEqual({ credits: '0.004900', n: 1000, total: '4.900000' });
    const one = await createOrg();
    await track(one, { eventType: tiny, eventData: { units: { tokens: 49_000 } } }).expect(201);
    tinyOrgs = [many, one];
    for (const org of tinyOrgs) {
      expect(await exact(org)).toBe('4.9');
      expect(await used(org)).toBe(4.9);
      expect((await get(`/api/organizations/${org}/usage/invoice`).expect(200)).body).toMatchObject({ usedCredits: 4.9 });
      const breakdown = (await get(`/api/organizations/${org}/usage/breakdown`).expect(200)).body;
      expect(JSON.stringify(breakdown)).toContain('4.9');
      await expectLedgerConsistent(t.dataSource, org);
    }
    // A replay of a keyed tiny event charges nothing more.
    await track(many, { eventType: tiny, eventData: { units: { tokens: 49 } }, idempotencyKey: `tiny-${suffix}` }).expect(201);
    const replay = await track(many, { eventType: tiny, eventData: { units: { tokens: 49 } }, idempotencyKey: `tiny-${suffix}` }).expect(201);
    expect(replay.body.duplicate).toBe(true);
    expect(await exact(many)).toBe('4.9049');
  });

  it('property: the sum of N events’ charges equals the price of their total quantity within 0.01, over random splits', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }).map((m) => Number(new Big(m).div(1_000_000).toString())),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 60 }),
        async (rate, parts) => {
          const eventType = `split_${suffix}_${++run}`;
          await createDefinition(eventType, rate);
          const split = await createOrg('enterprise');
          const whole = await createOrg('enterprise');
          await track(split, { events: parts.map((tokens) => ({ eventType, eventData: { units: { tokens } } })) }).expect(200);
          const total = parts.reduce((a, b) => a + b, 0);
          const single = await track(whole, { eventType, eventData: { units: { tokens: total } } }).expect(201);
          // Exactly, in the ledger: Σ parts × rate = total × rate (rates have at most 6 decimals).
          expect(await exact(split)).toBe(new Big(total).times(rate).toString());
          expect(await exact(split)).toBe(await exact(whole));
          // As shown: within one hundredth of the single event's price.
          expect(Math.abs((await used(split)) - single.body.creditsConsumed)).toBeLessThanOrEqual(0.01 + 1e-9);
          await expectLedgerConsistent(t.dataSource, split);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('invoices what was used below a hundredth, rounded once at the close', async () => {
    clock.set('2026-12-01T02:00:00.000Z');
    const run = await t.http().post('/api/admin/jobs/period-close/run').set(ADMIN).send({}).expect(200);
    expect(run.body.details).toMatchObject({ closed: ['2026-11'], recounted: {} });
    const rows = await t.dataSource.query(`SELECT organization_id, used_credits::text FROM invoices WHERE period_start = '2026-11-01' AND organization_id IN ($1, $2)`, tinyOrgs);
    expect(rows.map((r: { used_credits: string }) => r.used_credits).sort()).toEqual(['4.90', '4.90']);
  });
});
