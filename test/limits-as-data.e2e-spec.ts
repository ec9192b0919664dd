import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { checkLedger } from '../bench/lib/ledger.mjs';
import { LimitCountsAsRows1764300110000 } from '../migrations/1764300110000-LimitCountsAsRows';
import { FakeClock } from '../src/common/clock/clock';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { createOrg } from './utils/factories';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { createTestDatabase, ON_POSTGRES } from './utils/test-database';

/**
 * Count limits are data: a plan's `limits` map may name any count, and an event definition's `countsToward`
 * names the counts each event adds one to. An operator adds a limit through the admin API and the debit
 * enforces it at once: no migration, no function change. The counters are rows of period_limit_counts.
 *
 * Failed before: a plan limit other than the five known names was 400 ("not a known field"), an event could
 * count toward one of three names only, and the debit read three fixed columns.
 */
describe('count limits as data', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  const suffix = Math.random().toString(36).slice(2, 7);
  const plan = `reports_${suffix}`;
  const report = `report_export_${suffix}`;
  const both = `report_with_ai_${suffix}`;
  const streamed = `report_streamed_${suffix}`;

  const track = (org: string, body: Record<string, unknown>) => t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send(body);
  const summary = async (org: string) => (await t.http().get(`/api/organizations/${org}/usage`).set(ADMIN).expect(200)).body;
  const counters = async (org: string): Promise<Record<string, number>> =>
    Object.fromEntries(
      ((await t.dataSource.query(`SELECT limit_name, used::int AS used FROM period_limit_counts WHERE organization_id = $1 ORDER BY 1`, [org])) as Array<{ limit_name: string; used: number }>).map((r) => [r.limit_name, r.used]),
    );
  const planBody = (name: string, limits: Record<string, unknown>) => ({ name, displayName: name, monthlyCredits: 1000, pricing: { monthly: 10, annual: 100 }, overageRate: 0.01, limits });

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await t.http().post('/api/admin/plans').set(ADMIN).send(planBody(plan, { reportsPerMonth: 3, aiCallsPerMonth: 5 })).expect(201);
    // countsToward as one name, as a list, and limitKey (the old spelling) on a priced-by-units event.
    await t.http().post('/api/admin/events').set(ADMIN).send({ eventType: report, displayName: 'Report', category: 'reports', baseCredits: 1, countsToward: 'reportsPerMonth' }).expect(201);
    await t.http().post('/api/admin/events').set(ADMIN).send({ eventType: both, displayName: 'Report + AI', category: 'reports', baseCredits: 1, countsToward: ['aiCallsPerMonth', 'reportsPerMonth'] }).expect(201);
    await t.http().post('/api/admin/events').set(ADMIN).send({ eventType: streamed, displayName: 'Streamed', category: 'reports', baseCredits: 0, units: { tokens: 0.01 }, maxUnits: { tokens: 100 }, limitKey: 'reportsPerMonth' }).expect(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stores countsToward as a list, with limitKey its first name (the old spelling)', async () => {
    expect((await t.http().get(`/api/admin/events/${report}`).set(ADMIN).expect(200)).body).toMatchObject({ countsToward: ['reportsPerMonth'], limitKey: 'reportsPerMonth' });
    expect((await t.http().get(`/api/admin/events/${both}`).set(ADMIN).expect(200)).body).toMatchObject({ countsToward: ['aiCallsPerMonth', 'reportsPerMonth'], limitKey: 'aiCallsPerMonth' });
    expect((await t.http().get(`/api/admin/events/${streamed}`).set(ADMIN).expect(200)).body).toMatchObject({ countsToward: ['reportsPerMonth'], limitKey: 'reportsPerMonth' });
    // A definition read from the API can be sent back as it is (both spellings, agreeing).
    const read = (await t.http().get(`/api/admin/events/${both}`).set(ADMIN).expect(200)).body;
    await t.http().put(`/api/admin/events/${both}`).set(ADMIN).send(read).expect(200);
    // A seed definition (stored with limitKey only) serves countsToward too; a PATCH in the old spelling
    // replaces both, and one in the new spelling too.
    expect((await t.http().get('/api/admin/events/export_pdf').set(ADMIN).expect(200)).body).toMatchObject({ countsToward: ['pdfExportsPerMonth'], limitKey: 'pdfExportsPerMonth' });
    expect((await t.http().patch(`/api/admin/events/${both}`).set(ADMIN).send({ limitKey: 'reportsPerMonth' }).expect(200)).body).toMatchObject({ countsToward: ['reportsPerMonth'], limitKey: 'reportsPerMonth' });
    expect((await t.http().patch(`/api/admin/events/${both}`).set(ADMIN).send({ countsToward: ['aiCallsPerMonth', 'reportsPerMonth'] }).expect(200)).body).toMatchObject({ countsToward: ['aiCallsPerMonth', 'reportsPerMonth'], limitKey: 'aiCallsPerMonth' });
    expect((await t.http().get(`/api/admin/plans/${plan}`).set(ADMIN).expect(200)).body.limits).toMatchObject({ reportsPerMonth: 3, aiCallsPerMonth: 5, pdfExportsPerMonth: null });
  });

  it('an operator-added limit is enforced at once: 402 LIMIT_EXCEEDED past it, naming the limit, nothing written', async () => {
    const org = await createOrg(t, plan, { prefix: 'limits' });
    for (let i = 0; i < 3; i++) await track(org, { eventType: report }).expect(201);
    const before = await ledgerState(t.dataSource, org);
    const refused = await track(org, { eventType: report }).expect(402);
    expect(refused.body).toMatchObject({ error: 'LIMIT_EXCEEDED', details: { limit: 'reportsPerMonth', max: 3, used: 3, plan } });
    expect(await ledgerState(t.dataSource, org)).toEqual(before);
    expect(await counters(org)).toEqual({ reportsPerMonth: 3 });
    const s = await summary(org);
    expect(s.limits).toEqual({ aiCallsPerMonth: { used: 0, limit: 5 }, pdfExportsPerMonth: { used: 0, limit: null }, sessionLimit: { used: 0, limit: null }, reportsPerMonth: { used: 3, limit: 3 } });
    // Other events still pass: only what counts toward the full limit is refused.
    await track(org, { eventType: 'visuals_sketch' }).expect(201);
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('an event counting toward two limits takes one of each, and is refused by whichever is full', async () => {
    const org = await createOrg(t, plan, { prefix: 'limits' });
    await track(org, { eventType: report }).expect(201);
    await track(org, { eventType: report }).expect(201);
    await track(org, { eventType: both }).expect(201);
    expect(await counters(org)).toEqual({ aiCallsPerMonth: 1, reportsPerMonth: 3 });
    // aiCallsPerMonth has room, reportsPerMonth has none: refused, and neither counter moves.
    const refused = await track(org, { eventType: both }).expect(402);
    expect(refused.body.details).toMatchObject({ limit: 'reportsPerMonth', max: 3, used: 3 });
    expect(await counters(org)).toEqual({ aiCallsPerMonth: 1, reportsPerMonth: 3 });
    // A batch decides each event against the counts before it: one counter full refuses the rest.
    const other = await createOrg(t, plan, { prefix: 'limits' });
    const batch = await track(other, { events: Array.from({ length: 5 }, () => ({ eventType: both })) }).expect(200);
    expect(batch.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'accepted', 'accepted', 'rejected', 'rejected']);
    expect(await counters(other)).toEqual({ aiCallsPerMonth: 3, reportsPerMonth: 3 });
    await expectLedgerConsistent(t.dataSource, org);
    await expectLedgerConsistent(t.dataSource, other);
  });

  it('a replayed event counts once; a hold counts once however often it is extended, and its release gives the count back', async () => {
    const org = await createOrg(t, plan, { prefix: 'limits' });
    await track(org, { eventType: report, idempotencyKey: `once-${suffix}` }).expect(201);
    const replay = await track(org, { eventType: report, idempotencyKey: `once-${suffix}` }).expect(201);
    expect(replay.body.duplicate).toBe(true);
    expect(await counters(org)).toEqual({ reportsPerMonth: 1 });
    const hold = (await t.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).send({ eventType: streamed, eventData: { units: { tokens: 10 } } }).expect(201)).body;
    expect(await counters(org)).toEqual({ reportsPerMonth: 2 });
    for (const tokens of [200, 400, 800]) {
      await t.http().post(`/api/organizations/${org}/usage/reservations/${hold.reservationId}/extend`).set(ADMIN).send({ eventData: { units: { tokens } } }).expect(200);
    }
    expect(await counters(org)).toEqual({ reportsPerMonth: 2 });
    await expectLedgerConsistent(t.dataSource, org);
    await t.http().post(`/api/organizations/${org}/usage/reservations/${hold.reservationId}/release`).set(ADMIN).send({}).expect(200);
    expect(await counters(org)).toEqual({ reportsPerMonth: 1 });
    // A committed hold keeps its one count.
    const kept = (await t.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).send({ eventType: streamed }).expect(201)).body;
    await t.http().post(`/api/organizations/${org}/usage/reservations/${kept.reservationId}/commit`).set(ADMIN).send({ eventData: { units: { tokens: 50 } } }).expect(200);
    expect(await counters(org)).toEqual({ reportsPerMonth: 2 });
    await expectLedgerConsistent(t.dataSource, org);
  });

  it('a name no plan bounds is counted, and a plan that adds the limit later bounds what was counted', async () => {
    const later = `later_${suffix}`;
    const laterPlan = `later_plan_${suffix}`;
    await t.http().post('/api/admin/plans').set(ADMIN).send(planBody(laterPlan, {})).expect(201);
    await t.http().post('/api/admin/events').set(ADMIN).send({ eventType: later, displayName: 'Later', category: 'reports', baseCredits: 1, countsToward: ['exportsLater'] }).expect(201);
    const org = await createOrg(t, laterPlan, { prefix: 'limits' });
    for (let i = 0; i < 2; i++) await track(org, { eventType: later }).expect(201);
    expect(await counters(org)).toEqual({ exportsLater: 2 });
    expect((await summary(org)).limits.exportsLater).toBeUndefined();
    await t.http().patch(`/api/admin/plans/${laterPlan}`).set(ADMIN).send({ limits: { exportsLater: 2 } }).expect(200);
    expect((await track(org, { eventType: later }).expect(402)).body.details).toMatchObject({ limit: 'exportsLater', max: 2, used: 2 });
    expect((await summary(org)).limits.exportsLater).toEqual({ used: 2, limit: 2 });
    await t.http().patch(`/api/admin/plans/${laterPlan}`).set(ADMIN).send({ limits: { exportsLater: null } }).expect(200);
    await track(org, { eventType: later }).expect(201);
    expect((await summary(org)).limits.exportsLater).toEqual({ used: 3, limit: null });
  });

  it('the largest limit the validator allows is accepted and counts; one more is 400', async () => {
    const big = `big_${suffix}`;
    await t.http().post('/api/admin/plans').set(ADMIN).send(planBody(big, { reportsPerMonth: 2_000_000_000 })).expect(201);
    const org = await createOrg(t, big, { prefix: 'limits' });
    await track(org, { eventType: report }).expect(201);
    expect((await summary(org)).limits.reportsPerMonth).toEqual({ used: 1, limit: 2_000_000_000 });
    const res = await t.http().post('/api/admin/plans').set(ADMIN).send(planBody(`big2_${suffix}`, { reportsPerMonth: 2_000_000_001 })).expect(400);
    expect(res.body.details.fields['limits.reportsPerMonth']).toBeDefined();
    // Zero: nothing of it is allowed.
    await t.http().post('/api/admin/plans').set(ADMIN).send(planBody(`zero_${suffix}`, { reportsPerMonth: 0 })).expect(201);
    const none = await createOrg(t, `zero_${suffix}`, { prefix: 'limits' });
    expect((await track(none, { eventType: report }).expect(402)).body.details).toMatchObject({ limit: 'reportsPerMonth', max: 0, used: 0 });
  });

  describe('bad definitions are 400 with a field message and write nothing', () => {
    const tooMany = Object.fromEntries(Array.from({ length: 28 }, (_, i) => [`extra${i}`, 1]));
    const cases: Array<[string, 'events' | 'plans', Record<string, unknown>, string]> = [
      ['a limit name that is not an identifier', 'events', { countsToward: 'reports per month' }, 'countsToward'],
      ['a list holding a bad name', 'events', { countsToward: ['reportsPerMonth', 'Bad-Name'] }, 'countsToward[1]'],
      ['a name that is not a string', 'events', { countsToward: [7] }, 'countsToward[0]'],
      ['a limit that is not a count of events', 'events', { countsToward: 'teamMembersLimit' }, 'countsToward'],
      ['a name given twice', 'events', { countsToward: ['a1', 'a1'] }, 'countsToward[1]'],
      ['more than 8 names', 'events', { countsToward: Array.from({ length: 9 }, (_, i) => `n${i}`) }, 'countsToward'],
      ['limitKey disagreeing with countsToward', 'events', { countsToward: ['a1'], limitKey: 'b1' }, 'limitKey'],
      ['a bad old-spelling name', 'events', { limitKey: 'galaxies per month' }, 'limitKey'],
      ['a name longer than 64 characters', 'events', { countsToward: `a${'b'.repeat(64)}` }, 'countsToward'],
      ['a plan limit name that is not an identifier', 'plans', { limits: { 'no such!': 3 } }, 'limits.no such!'],
      ['more than 32 plan limits', 'plans', { limits: tooMany }, 'limits'],
      ['a fractional limit', 'plans', { limits: { reportsPerMonth: 1.5 } }, 'limits.reportsPerMonth'],
      ['a negative limit', 'plans', { limits: { reportsPerMonth: -1 } }, 'limits.reportsPerMonth'],
      ['a string limit', 'plans', { limits: { reportsPerMonth: '3' } }, 'limits.reportsPerMonth'],
    ];
    it.each(cases)('%s', async (_name, registry, extra, field) => {
      const key = `bad_${registry}_${Math.random().toString(36).slice(2, 8)}`;
      const body = registry === 'events' ? { eventType: key, displayName: 'Bad', category: 'reports', baseCredits: 1, ...extra } : { ...planBody(key, {}), ...extra };
      const res = await t.http().post(`/api/admin/${registry}`).set(ADMIN).send(body).expect(400);
      expect(res.body.error).toBe('VALIDATION_FAILED');
      expect(res.body.details.fields[field]).toEqual([expect.any(String)]);
      await t.http().get(`/api/admin/${registry}/${key}`).set(ADMIN).expect(404);
      // A patch of an existing definition is refused the same way and changes nothing.
      const target = registry === 'events' ? report : plan;
      const before = (await t.http().get(`/api/admin/${registry}/${target}`).set(ADMIN).expect(200)).body;
      await t.http().patch(`/api/admin/${registry}/${target}`).set(ADMIN).send(extra).expect(400);
      expect((await t.http().get(`/api/admin/${registry}/${target}`).set(ADMIN).expect(200)).body).toEqual(before);
    });
  });

  it("the benchmarks' ledger checks hold on everything this file wrote before the migration test (the counters against the ledger included)", async () => {
    const db = { query: async (sql: string) => ({ rows: await t.dataSource.query(sql) }) };
    const result = await checkLedger(db);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.checks.map((c) => c.name)).toEqual(expect.arrayContaining([expect.stringMatching(/^count limits: every counter/)]));
  });

  it('the migration moves the old counters exactly (written in the old columns, then migrated)', async () => {
    const orgs = [await createOrg(t, plan, { prefix: 'limits' }), await createOrg(t, 'free', { prefix: 'limits' })];
    await track(orgs[0], { eventType: report }).expect(201);
    await track(orgs[0], { eventType: both }).expect(201);
    await track(orgs[1], { eventType: 'export_pdf' }).expect(201);
    // Every counter of the database, before: the migration must give back exactly these rows.
    const all = async () => t.dataSource.query(`SELECT organization_id, period_start::text, limit_name, used::text FROM period_limit_counts ORDER BY 1, 2, 3`);
    const before = await all();
    expect(before).toEqual(expect.arrayContaining([{ organization_id: orgs[1], period_start: '2026-11-01', limit_name: 'pdfExportsPerMonth', used: '1' }]));
    expect(before.some((r: { organization_id: string; limit_name: string }) => r.organization_id === orgs[0] && r.limit_name === 'reportsPerMonth')).toBe(true);
    // Back to the schema before the migration (last in the file: the names without a column lose their
    // counters here, as they had none then): the three columns, holding the counters of the three known
    // names (a name the old schema had no column for had no counter then either).
    await t.dataSource.query(`DELETE FROM period_limit_counts WHERE limit_name NOT IN ('aiCallsPerMonth', 'pdfExportsPerMonth', 'sessionLimit')`);
    const known = await all();
    // (One runner for every statement: the embedded database has a single connection.)
    const runner = t.dataSource.createQueryRunner();
    let old: unknown;
    let columns: Array<{ n: number }>;
    try {
      await new LimitCountsAsRows1764300110000().down(runner);
      columns = await runner.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'period_balances' AND column_name IN ('ai_calls', 'pdf_exports', 'sessions')`);
      [old] = await runner.query(`SELECT ai_calls, pdf_exports, sessions FROM period_balances WHERE organization_id = $1`, [orgs[1]]);
      await new LimitCountsAsRows1764300110000().up(runner);
    } finally {
      await runner.release();
    }
    expect(columns[0].n).toBe(3);
    expect(old).toEqual({ ai_calls: 0, pdf_exports: 1, sessions: 0 });
    expect(await all()).toEqual(known);
    // The debit and the refund work on the migrated rows.
    await track(orgs[1], { eventType: 'export_pdf' }).expect(201);
    expect(await counters(orgs[1])).toEqual({ pdfExportsPerMonth: 2 });
    await expectLedgerConsistent(t.dataSource, orgs[1]);
  });
});

const describeOnPostgres = ON_POSTGRES ? describe : describe.skip;

describeOnPostgres('an operator-added limit across two instances on one PostgreSQL', () => {
  it('instances racing for the last counts never pass the limit (many rounds)', async () => {
    const database = await createTestDatabase();
    const a = await startTestApp({ database });
    const suffix = Math.random().toString(36).slice(2, 7);
    let b: TestApp | undefined;
    try {
      await a.http().post('/api/admin/plans').set(ADMIN).send({ name: `race_${suffix}`, displayName: 'Race', monthlyCredits: 100000, pricing: { monthly: 1, annual: 10 }, limits: { racesPerMonth: 5 } }).expect(201);
      await a.http().post('/api/admin/events').set(ADMIN).send({ eventType: `race_${suffix}`, displayName: 'Race', category: 'reports', baseCredits: 1, countsToward: 'racesPerMonth' }).expect(201);
      // The second instance starts on the same migrated database: the limit needed no schema change.
      b = await startTestApp({ database });
      for (let round = 0; round < 12; round++) {
        const org = await createOrg(a, `race_${suffix}`, { prefix: 'race' });
        // Some rounds start with counts already used, so the race is for the last one or two.
        const already = round % 4;
        for (let i = 0; i < already; i++) await a.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ eventType: `race_${suffix}` }).expect(201);
        const responses = await Promise.all(
          Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b!).http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ eventType: `race_${suffix}`, idempotencyKey: `r-${i % 12}` })),
        );
        const accepted = responses.filter((r) => r.status === 201 && !r.body.duplicate);
        const refused = responses.filter((r) => r.status === 402);
        expect(accepted).toHaveLength(5 - already);
        for (const r of refused) expect(r.body).toMatchObject({ error: 'LIMIT_EXCEEDED', details: { limit: 'racesPerMonth', max: 5 } });
        expect(responses.every((r) => r.status === 201 || r.status === 402)).toBe(true);
        const [row] = await a.dataSource.query(`SELECT used::int AS used FROM period_limit_counts WHERE organization_id = $1 AND limit_name = 'racesPerMonth'`, [org]);
        expect(row.used).toBe(5);
        await expectLedgerConsistent(a.dataSource, org);
      }
      const checked = await checkLedger({ query: async (sql: string) => ({ rows: await a.dataSource.query(sql) }) });
      expect(checked.checks.filter((c) => !c.ok)).toEqual([]);
    } finally {
      await a.close();
      await b?.close();
      await database.drop();
    }
  });
});
