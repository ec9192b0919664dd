import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { FakeClock } from '../src/common/clock/clock';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';

async function frozenState(ds: DataSource) {
  return {
    closes: await ds.query(`SELECT period_start::text, status, organizations FROM period_closes ORDER BY 1`),
    invoices: await ds.query(`SELECT organization_id, period_start::text, total::text, lines, created_at FROM invoices ORDER BY 1, 2`),
    reports: await ds.query(`SELECT organization_id, period_start::text, report, csv FROM monthly_reports ORDER BY 1, 2`),
    balances: await ds.query(`SELECT organization_id, period_start::text, plan_name, consumed::text, events FROM period_balances ORDER BY 1, 2`),
  };
}

/**
 * The close freezes organizations set-based, 250 per transaction: more than one chunk of organizations,
 * some with usage, top-ups or an annual plan, one whose rollups disagree with its balance (recounted), one
 * holding a pending reservation (deferred until it is released). Every final invoice must equal the preview
 * the same code gave before the close (the per-organization path it replaced).
 */
describe('period close, many organizations at once', () => {
  let t: TestApp;
  const clock = new FakeClock('2028-05-10T12:00:00.000Z');
  const suffix = Math.random().toString(36).slice(2, 7);
  const ids = Array.from({ length: 260 }, (_, i) => `many-${suffix}-${String(i).padStart(3, '0')}`);
  const busy = ids.slice(0, 12); // with events
  const tampered = ids[3];
  const reserved = ids[255]; // in the second chunk, no events
  const annual = ids[7];
  const toppedUp = ids[9];
  const idle = ids[259]; // in the last chunk, no usage

  const get = (path: string) => t.http().get(path).set(ADMIN);
  const runJob = (name: string) => t.http().post(`/api/admin/jobs/${name}/run`).set(ADMIN).send({});

  beforeAll(async () => {
    t = await startTestApp({ clock });
    for (let i = 0; i < ids.length; i += 20) {
      await Promise.all(
        ids.slice(i, i + 20).map((id) =>
          t
            .http()
            .post('/api/admin/organizations')
            .set(ADMIN)
            .send({ id, name: `Many ${id}`, plan: id === annual ? 'professional' : 'starter', ...(id === annual ? { billingCycle: 'annual' } : {}) })
            .expect(201),
        ),
      );
    }
    for (const [n, id] of busy.entries()) {
      const events = Array.from({ length: 3 + n }, (_, k) => ({ eventType: k % 2 ? 'visuals_planning' : 'push_sow_to_loe', userId: `u${k % 3}`, occurredAt: `2028-05-${String(1 + (k % 9)).padStart(2, '0')}T10:00:00.000Z` }));
      await t.http().post(`/api/organizations/${id}/usage/events`).set(ADMIN).send({ events }).expect(200);
    }
    // Enough overage on one organization that the overage line and its recorded cost are in the invoice.
    const heavy = Array.from({ length: 20 }, () => ({ eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 }, userId: 'u9' }));
    await t.http().post(`/api/organizations/${busy[1]}/usage/events`).set(ADMIN).send({ events: heavy }).expect(200);
    await t.http().post(`/api/admin/organizations/${toppedUp}/credits`).set(ADMIN).send({ amount: 500 }).expect(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('defers the organization with a pending reservation, recounts the tampered one, freezes everyone else as previewed', async () => {
    const reservation = await t.http().post(`/api/organizations/${reserved}/usage/reservations`).set(ADMIN).send({ eventType: 'visuals_planning' }).expect(201);
    await t.dataSource.query(`UPDATE usage_rollups_monthly SET events = events + 1 WHERE organization_id = $1 AND period_start = '2028-05-01' AND event_type = 'visuals_planning' AND user_id = 'u1'`, [tampered]);

    clock.set('2028-06-01T00:30:00.000Z'); // ended, inside the grace window: the preview is pending_close
    const previews = new Map<string, Record<string, unknown>>();
    for (const id of [...busy, idle]) previews.set(id, (await get(`/api/organizations/${id}/usage/invoice?period=2028-05`).expect(200)).body);
    expect(previews.get(busy[1])).toMatchObject({ status: 'pending_close', overageCredits: expect.any(Number) });
    expect(previews.get(busy[1])!.overageCredits).toBeGreaterThan(0);
    expect(previews.get(toppedUp)).toMatchObject({ topUpCredits: 500 });
    expect(previews.get(annual)).toMatchObject({ billingCycle: 'annual', plan: 'professional' });

    clock.set('2028-06-01T01:00:00.000Z');
    const run = await runJob('period-close').expect(200);
    expect(run.body).toMatchObject({ status: 'succeeded', details: { due: ['2028-05'], closed: [], deferred: { '2028-05': [reserved] }, recounted: { '2028-05': [tampered] } } });
    expect(run.body.rows).toBe((ids.length - 1) * 2);
    expect(await t.dataSource.query(`SELECT status FROM period_closes WHERE period_start = '2028-05-01'`)).toEqual([{ status: 'closing' }]);
    const counts = await t.dataSource.query(
      `SELECT (SELECT count(*)::int FROM invoices WHERE period_start = '2028-05-01' AND organization_id = ANY($1)) AS invoices,
              (SELECT count(*)::int FROM monthly_reports WHERE period_start = '2028-05-01' AND organization_id = ANY($1)) AS reports`,
      [ids],
    );
    expect(counts).toEqual([{ invoices: ids.length - 1, reports: ids.length - 1 }]);
    expect(await t.dataSource.query(`SELECT count(*)::int AS n FROM invoices WHERE organization_id = $1`, [reserved])).toEqual([{ n: 0 }]);

    for (const [id, preview] of previews) {
      if (id === reserved) continue;
      const final = (await get(`/api/organizations/${id}/usage/invoice?period=2028-05`).expect(200)).body;
      expect(final).toEqual({ ...preview, status: 'final' });
    }
    // The recount repaired the tampered rollups: the report counts what the ledger holds.
    const report = (await get(`/api/organizations/${tampered}/usage/reports/2028-05`).expect(200)).body;
    const [ledger] = await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_events WHERE organization_id = $1`, [tampered]);
    expect(report.totals.events).toBe(ledger.n);
    expect(report.byEventType.reduce((a: number, r: { events: number }) => a + r.events, 0)).toBe(ledger.n);
    const idleReport = (await get(`/api/organizations/${idle}/usage/reports/2028-05`).expect(200)).body;
    expect(idleReport).toMatchObject({ totals: { events: 0, credits: 0 }, invoice: { total: 19 } });
    expect(idleReport.byDay).toHaveLength(31);

    // Once the reservation has expired (a reservation never outlives the grace window), the next run freezes
    // the last organization and closes the period; the others stay as they were.
    const before = await frozenState(t.dataSource);
    await runJob('reservation-expiry').expect(200);
    expect(await t.dataSource.query(`SELECT status FROM reservations WHERE id = $1`, [reservation.body.reservationId])).toEqual([{ status: 'expired' }]);
    const again = await runJob('period-close').expect(200);
    expect(again.body).toMatchObject({ status: 'succeeded', details: { closed: ['2028-05'], deferred: {}, recounted: {} } });
    const after = await frozenState(t.dataSource);
    expect(after.invoices.filter((i: { organization_id: string }) => i.organization_id !== reserved)).toEqual(before.invoices);
    expect(after.reports.filter((i: { organization_id: string }) => i.organization_id !== reserved)).toEqual(before.reports);
    expect(after.closes).toEqual([{ period_start: '2028-05-01', status: 'closed', organizations: ids.length }]);
    expect((await get(`/api/organizations/${reserved}/usage/invoice?period=2028-05`).expect(200)).body).toMatchObject({ status: 'final', usedCredits: 0, total: 19 });

    // A third run changes nothing.
    await runJob('period-close').expect(200);
    expect(await frozenState(t.dataSource)).toEqual(after);
  });
});
