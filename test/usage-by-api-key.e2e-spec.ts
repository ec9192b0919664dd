import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { AsyncUsageBuffer } from '../src/modules/tracking/async-usage-buffer.service';
import { ADMIN, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';
import { createOrg as newOrg } from './utils/factories';

/**
 * Usage per API key ("which key spent what"): every accepted event keeps the organization key that
 * made it, on every path (single, batch, reservation commit, @TrackUsage sync and async); the usage page's
 * statement groups a period by key, the admin key's events apart as unattributed.
 */
describe('usage per API key', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const createOrg = (): Promise<string> => newOrg(t, 'professional', { prefix: 'by' });
  async function createKey(org: string, name: string): Promise<{ id: string; prefix: string; auth: Record<string, string> }> {
    const res = await t.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name, scopes: ['track', 'read'] }).expect(201);
    return { id: res.body.id, prefix: res.body.prefix, auth: bearer(res.body.key) };
  }
  const byKey = (org: string, auth: Record<string, string>, query = '') => t.http().get(`/api/organizations/${org}/usage/api-keys${query}`).set(auth);

  it('attributes every path to the key that made the request; the admin key is unattributed', async () => {
    const org = await createOrg();
    const a = await createKey(org, 'agent A');
    const b = await createKey(org, 'agent B');
    const charged = { a: 0, b: 0, admin: 0 };
    const add = (who: keyof typeof charged, credits: number) => (charged[who] = Math.round((charged[who] + credits) * 100) / 100);

    // Key A: a single event, a synchronous @TrackUsage route, an asynchronous one.
    add('a', (await t.http().post(`/api/organizations/${org}/usage/events`).set(a.auth).send({ eventType: 'structuring_diagnose', eventData: { complexity: 2 } }).expect(201)).body.creditsConsumed);
    add('a', (await t.http().post('/api/visuals/planning').set(a.auth).send({ inputText: 'plan it', complexity: 1.5 }).expect(200)).body.usage.creditsConsumed);
    await t.http().post('/api/push/structuring-to-visuals').set(a.auth).send({}).expect(200);
    await t.app.get(AsyncUsageBuffer).flush();
    add('a', 1);
    // Key B: a batch and a reservation committed.
    const batch = (await t.http().post(`/api/organizations/${org}/usage/events`).set(b.auth).send({ events: [{ eventType: 'visuals_planning' }, { eventType: 'export_pdf' }] }).expect(200)).body.results;
    for (const r of batch) add('b', r.result.creditsConsumed);
    const hold = (await t.http().post(`/api/organizations/${org}/usage/reservations`).set(b.auth).send({ eventType: 'structuring_diagnose' }).expect(201)).body;
    add('b', (await t.http().post(`/api/organizations/${org}/usage/reservations/${hold.reservationId}/commit`).set(b.auth).send({}).expect(200)).body.creditsConsumed);
    // The admin key.
    add('admin', (await t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ eventType: 'export_pdf' }).expect(201)).body.creditsConsumed);
    // A revoked key keeps what it spent, marked revoked.
    await t.http().delete(`/api/admin/organizations/${org}/api-keys/${b.id}`).set(ADMIN).expect(200);

    const report = (await byKey(org, a.auth).expect(200)).body;
    const listed = (await t.http().get(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).expect(200)).body.items as Array<{ id: string; prefix: string }>;
    const prefixOf = (id: string) => listed.find((k) => k.id === id)!.prefix;
    const summary = (await t.http().get(`/api/organizations/${org}/usage`).set(a.auth).expect(200)).body;
    expect(report.period).toBe('2026-11');
    expect(report.totals).toEqual({ events: 7, credits: summary.used, overageCredits: 0 });
    expect(report.items.map((i: { name: string; credits: number; events: number; revoked: boolean; prefix: string }) => [i.name, i.credits, i.events, i.revoked, i.prefix])).toEqual(
      [
        ['agent A', charged.a, 3, false, prefixOf(a.id)],
        ['agent B', charged.b, 3, true, prefixOf(b.id)],
      ].sort((x, y) => (y[1] as number) - (x[1] as number)),
    );
    expect(report.unattributed).toMatchObject({ events: 1, credits: charged.admin });
    const percents = [...report.items.map((i: { percent: number }) => i.percent), report.unattributed.percent];
    expect(Math.abs(percents.reduce((s: number, p: number) => s + p, 0) - 100)).toBeLessThanOrEqual(0.02);
    // The key's secret never appears.
    expect(JSON.stringify(report)).not.toMatch(/cm_live_|key_hash/);
  });

  it('reads a period by YYYY-MM (empty before any usage), refuses a bad one, another organization and a track-only key', async () => {
    const org = await createOrg();
    const a = await createKey(org, 'reader');
    await t.http().post(`/api/organizations/${org}/usage/events`).set(a.auth).send({ eventType: 'export_pdf' }).expect(201);
    const october = (await byKey(org, a.auth, '?period=2026-10').expect(200)).body;
    expect(october).toEqual({ organizationId: org, period: '2026-10', totals: { events: 0, credits: 0, overageCredits: 0 }, items: [], unattributed: { events: 0, credits: 0, overageCredits: 0, percent: 0 } });
    expect((await byKey(org, a.auth, '?period=2026-13').expect(400)).body.error).toBe('VALIDATION_FAILED');
    const other = await createOrg();
    await byKey(other, a.auth).expect(404);
    const trackOnly = (await t.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name: 'tracker', scopes: ['track'] }).expect(201)).body.key;
    await byKey(org, bearer(trackOnly)).expect(403);
  });

  it('is readable from a customer portal link of the organization (the usage page shows it)', async () => {
    const org = await createOrg();
    const link = (await t.http().post(`/api/admin/organizations/${org}/portal-sessions`).set(ADMIN).send({}).expect(201)).body;
    const token = String(link.url).split('#portal=')[1];
    expect((await byKey(org, bearer(token)).expect(200)).body.organizationId).toBe(org);
  });
});
