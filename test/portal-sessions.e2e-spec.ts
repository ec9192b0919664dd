import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { createOrganization, issueKey } from './utils/security-fixtures';
import { ADMIN, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';
import { createTestDatabase, ON_POSTGRES } from './utils/test-database';

/**
 * Customer portal links: POST /api/admin/organizations/:orgId/portal-sessions -> 201 {url, expiresAt}. The
 * token in the link opens its organization's usage page read-only and nothing else; every route of the app
 * is checked against it in security-matrix.e2e-spec.ts. Here: creation, validation, expiry on the injected
 * clock, and the other organization.
 */
describe('customer portal links', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let t: TestApp;
  let org: string;
  let other: string;

  const tokenOf = (url: string) => new URL(url).hash.replace(/^#portal=/, '');
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const create = async (orgId: string, body: object = {}) => (await t.http().post(`/api/admin/organizations/${orgId}/portal-sessions`).set(ADMIN).send(body).expect(201)).body as { id: string; organizationId: string; url: string; expiresAt: string };
  const count = async () => Number(((await t.dataSource.query(`SELECT count(*)::int AS n FROM portal_sessions`)) as Array<{ n: number }>)[0].n);

  beforeAll(async () => {
    t = await startTestApp({ clock });
    org = await createOrganization(t, 'portal', 'starter');
    other = await createOrganization(t, 'portal-other', 'starter');
    await t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ eventType: 'visuals_planning', eventData: { complexity: 1 } }).expect(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates a link with the token in the fragment, stored hashed, expiring after the TTL', async () => {
    const link = await create(org);
    expect(link).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), organizationId: org, url: expect.stringMatching(/^http:\/\/[^/]+\/dashboard#portal=nxp_[A-Za-z0-9_-]{43}$/), expiresAt: '2026-11-15T13:00:00.000Z' });
    const token = tokenOf(link.url);
    const stored = (await t.dataSource.query(`SELECT token_hash, expires_at, created_by FROM portal_sessions WHERE organization_id = $1`, [org])) as Array<{ token_hash: string; created_by: string }>;
    expect(stored).toHaveLength(1);
    expect(stored[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(token.slice(4));
    expect(stored[0].created_by).toBe('admin');
    expect((await create(org, { ttlMinutes: 5 })).expiresAt).toBe('2026-11-15T12:05:00.000Z');
    expect((await create(org, { ttlMinutes: 1440 })).expiresAt).toBe('2026-11-16T12:00:00.000Z');
  });

  it('opens the usage page read-only: summary, analytics, session', async () => {
    const token = tokenOf((await create(org)).url);
    const summary = await t.http().get(`/api/organizations/${org}/usage`).set(bearer(token)).expect(200);
    expect(summary.body.used).toBe(8);
    for (const path of ['usage/forecast', 'usage/breakdown', 'usage/recommendation', 'usage/invoice', 'usage/events', 'usage/trends', 'usage/reports', 'notifications']) {
      await t.http().get(`/api/organizations/${org}/${path}`).set(bearer(token)).expect(200);
    }
    await t.http().get('/api/dashboard/session').set(bearer(token)).expect(200, { kind: 'portal', organizationId: org, scopes: ['read'], expiresAt: '2026-11-15T13:00:00.000Z' });
  });

  it('is refused on every write and admin route with 401, and nothing is written', async () => {
    const token = tokenOf((await create(org)).url);
    const before = (await t.http().get(`/api/organizations/${org}/usage`).set(ADMIN).expect(200)).body.events;
    const refused = await t.http().post(`/api/organizations/${org}/usage/events`).set(bearer(token)).send({ eventType: 'visuals_planning' }).expect(401);
    expect(refused.body).toMatchObject({ statusCode: 401, error: 'UNAUTHORIZED', message: "A portal link opens its organization's usage page only" });
    await t.http().post(`/api/organizations/${org}/usage/check`).set(bearer(token)).send({ eventType: 'visuals_planning' }).expect(401);
    await t.http().post(`/api/organizations/${org}/usage/reservations`).set(bearer(token)).send({ eventType: 'visuals_planning' }).expect(401);
    await t.http().get(`/api/organizations/${org}/api-keys`).set(bearer(token)).expect(401);
    await t.http().get(`/api/organizations/${org}/webhooks/deliveries`).set(bearer(token)).expect(401);
    await t.http().get(`/api/admin/organizations/${org}`).set(bearer(token)).expect(401);
    await t.http().post(`/api/admin/organizations/${org}/portal-sessions`).set(bearer(token)).send({}).expect(401);
    await t.http().post('/api/visuals/planning').set(bearer(token)).set('x-organization-id', org).send({}).expect(401);
    expect((await t.http().get(`/api/organizations/${org}/usage`).set(ADMIN).expect(200)).body.events).toBe(before);
  });

  it("is refused for another organization exactly like an unknown one (404), and works again for its own", async () => {
    const token = tokenOf((await create(org)).url);
    const res = await t.http().get(`/api/organizations/${other}/usage`).set(bearer(token)).expect(404);
    expect(res.body).toMatchObject({ error: 'ORGANIZATION_NOT_FOUND', message: `Organization "${other}" does not exist` });
    await t.http().get(`/api/organizations/${other}/usage/forecast`).set(bearer(token)).expect(404);
    await t.http().get(`/api/organizations/${org}/usage`).set(bearer(token)).set('x-organization-id', other).expect(404);
    await t.http().get(`/api/organizations/${org}/usage`).set(bearer(token)).expect(200);
  });

  it('expires on the clock: works until expiresAt, 401 from then on', async () => {
    clock.set('2026-11-15T12:00:00.000Z');
    const link = await create(org, { ttlMinutes: 30 });
    const token = tokenOf(link.url);
    clock.set('2026-11-15T12:29:59.999Z');
    await t.http().get(`/api/organizations/${org}/usage`).set(bearer(token)).expect(200);
    clock.set(link.expiresAt);
    const expired = await t.http().get(`/api/organizations/${org}/usage`).set(bearer(token)).expect(401);
    expect(expired.body).toMatchObject({ error: 'UNAUTHORIZED', message: 'Invalid or expired portal link' });
    await t.http().get('/api/dashboard/session').set(bearer(token)).expect(401);
    clock.set('2026-11-15T12:00:00.000Z');
  });

  it('refuses a made-up, malformed or API-key-shaped token', async () => {
    await t.http().get(`/api/organizations/${org}/usage`).set(bearer(`nxp_${'A'.repeat(43)}`)).expect(401);
    await t.http().get(`/api/organizations/${org}/usage`).set(bearer('nxp_short')).expect(401);
    // An organization key is not a portal token and keeps its own rules.
    const key = await issueKey(t, org, ['read']);
    await t.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(200);
  });

  it('validates the request and writes nothing for bad input', async () => {
    const before = await count();
    for (const body of [{ ttlMinutes: 4 }, { ttlMinutes: 1441 }, { ttlMinutes: 1.5 }, { ttlMinutes: '60' }, { scope: 'write' }]) {
      const res = await t.http().post(`/api/admin/organizations/${org}/portal-sessions`).set(ADMIN).send(body).expect(400);
      expect(res.body.error).toBe('VALIDATION_FAILED');
    }
    const missing = await t.http().post('/api/admin/organizations/nobody-here/portal-sessions').set(ADMIN).send({}).expect(404);
    expect(missing.body.error).toBe('ORGANIZATION_NOT_FOUND');
    // Only the admin key creates links: an organization key, even with every scope, is 401.
    const key = await issueKey(t, org, ['track', 'read', 'manage']);
    await t.http().post(`/api/admin/organizations/${org}/portal-sessions`).set(key.headers).send({}).expect(401);
    await t.http().post(`/api/admin/organizations/${org}/portal-sessions`).send({}).expect(401);
    expect(await count()).toBe(before);
  });

  it('builds the link from the configured public address, never from Host or X-Forwarded-Host', async () => {
    const res = await t.http().post(`/api/admin/organizations/${org}/portal-sessions`).set(ADMIN).set('Host', 'evil.example').set('X-Forwarded-Host', 'evil.example').set('X-Forwarded-Proto', 'https').send({}).expect(201);
    expect(res.body.url).not.toContain('evil.example');
    expect(res.body.url.startsWith(`${t.config.publicUrl}/dashboard#portal=nxp_`)).toBe(true);
  });

  it('revokes one link (admin): refused at once, the others keep working, a repeat answers the same', async () => {
    clock.set('2026-11-15T12:00:00.000Z');
    const leaked = await create(org);
    const kept = await create(org);
    await t.http().get(`/api/organizations/${org}/usage`).set(bearer(tokenOf(leaked.url))).expect(200);
    clock.set('2026-11-15T12:10:00.000Z');
    const revoked = await t.http().delete(`/api/admin/organizations/${org}/portal-sessions/${leaked.id}`).set(ADMIN).expect(200);
    expect(revoked.body).toEqual({ id: leaked.id, organizationId: org, createdBy: 'admin', createdAt: '2026-11-15T12:00:00.000Z', expiresAt: leaked.expiresAt, revokedAt: '2026-11-15T12:10:00.000Z', revokedBy: 'admin' });
    const refused = await t.http().get(`/api/organizations/${org}/usage`).set(bearer(tokenOf(leaked.url))).expect(401);
    expect(refused.body).toMatchObject({ error: 'UNAUTHORIZED', message: 'Invalid or expired portal link' });
    await t.http().get('/api/dashboard/session').set(bearer(tokenOf(leaked.url))).expect(401);
    await t.http().get(`/api/organizations/${org}/usage`).set(bearer(tokenOf(kept.url))).expect(200);
    // A replay (later, even by another caller) changes nothing: the first revocation stands.
    clock.set('2026-11-15T12:20:00.000Z');
    await t.http().delete(`/api/admin/organizations/${org}/portal-sessions/${leaked.id}`).set(ADMIN).expect(200, revoked.body);
    clock.set('2026-11-15T12:00:00.000Z');
  });

  it('refuses unknown, malformed and other organizations\' link ids with 404, and touches nothing', async () => {
    const link = await create(org);
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', 'x'.repeat(100), "1' OR '1'='1"]) {
      const res = await t.http().delete(`/api/admin/organizations/${org}/portal-sessions/${encodeURIComponent(id)}`).set(ADMIN).expect(404);
      expect(res.body.error).toBe('PORTAL_SESSION_NOT_FOUND');
    }
    // Past the router's parameter limit: a 4xx from the router, never a 500.
    await t.http().delete(`/api/admin/organizations/${org}/portal-sessions/${'x'.repeat(2000)}`).set(ADMIN).expect(414);
    // Organization B's route cannot reach A's link (same 404 as an unknown id).
    await t.http().delete(`/api/admin/organizations/${other}/portal-sessions/${link.id}`).set(ADMIN).expect(404);
    await t.http().delete(`/api/admin/organizations/nobody-here/portal-sessions/${link.id}`).set(ADMIN).expect(404);
    await t.http().get(`/api/organizations/${org}/usage`).set(bearer(tokenOf(link.url))).expect(200);
  });

  it("revokes all of an organization's links with its manage key (or the admin key); other organizations keep theirs", async () => {
    const links = [await create(org), await create(org, { ttlMinutes: 1440 }), await create(org)];
    const otherLink = await create(other);
    const manage = await issueKey(t, org, ['manage']);
    const read = await issueKey(t, org, ['read', 'track']);
    const otherManage = await issueKey(t, other, ['manage']);
    // Who may not: a key without manage (403), another organization's key (404), a portal token (401).
    await t.http().delete(`/api/organizations/${org}/portal-sessions`).set(read.headers).expect(403);
    await t.http().delete(`/api/organizations/${org}/portal-sessions`).set(otherManage.headers).expect(404);
    await t.http().delete(`/api/organizations/${org}/portal-sessions`).set(bearer(tokenOf(links[0].url))).expect(401);
    await t.http().delete(`/api/admin/organizations/${org}/portal-sessions`).set(manage.headers).expect(401);
    for (const link of links) await t.http().get(`/api/organizations/${org}/usage`).set(bearer(tokenOf(link.url))).expect(200);

    const res = await t.http().delete(`/api/organizations/${org}/portal-sessions`).set(manage.headers).expect(200);
    expect(res.body).toEqual({ organizationId: org, revoked: expect.any(Number), revokedAt: clock.now().toISOString() });
    expect(res.body.revoked).toBeGreaterThanOrEqual(links.length);
    for (const link of links) await t.http().get(`/api/organizations/${org}/usage`).set(bearer(tokenOf(link.url))).expect(401);
    await t.http().get(`/api/organizations/${other}/usage`).set(bearer(tokenOf(otherLink.url))).expect(200);
    // A repeat revokes nothing more; the admin route does the same; a new link works again.
    expect((await t.http().delete(`/api/organizations/${org}/portal-sessions`).set(manage.headers).expect(200)).body.revoked).toBe(0);
    const fresh = await create(org);
    expect((await t.http().delete(`/api/admin/organizations/${org}/portal-sessions`).set(ADMIN).expect(200)).body.revoked).toBe(1);
    await t.http().get(`/api/organizations/${org}/usage`).set(bearer(tokenOf(fresh.url))).expect(401);
    // One link revoked through the organization's own route, by its manage key.
    const one = await create(org);
    const view = await t.http().delete(`/api/organizations/${org}/portal-sessions/${one.id}`).set(manage.headers).expect(200);
    expect(view.body.revokedBy).toBe(`key:${manage.id}`);
    await t.http().get(`/api/organizations/${org}/usage`).set(bearer(tokenOf(one.url))).expect(401);
    await t.http().delete(`/api/organizations/${other}/portal-sessions/${otherLink.id}`).set(manage.headers).expect(404);
    await t.http().delete(`/api/organizations/nobody-here/portal-sessions`).set(ADMIN).expect(404);
  });

  it('is in the OpenAPI document with its summary, 201 schema and error statuses', async () => {
    const doc = (await t.http().get('/api/docs-json').expect(200)).body;
    const op = doc.paths['/api/admin/organizations/{orgId}/portal-sessions'].post;
    expect(op.summary).toContain('read-only link');
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '404']));
    const schema = doc.components.schemas[op.responses['201'].content['application/json'].schema.$ref.split('/').pop()];
    expect(schema.required).toEqual(expect.arrayContaining(['organizationId', 'url', 'expiresAt']));
    // The usage page's new reads too.
    for (const path of ['/api/organizations/{orgId}/credits', '/api/organizations/{orgId}/usage/hourly']) {
      const get = doc.paths[path].get;
      expect(get.summary).toEqual(expect.any(String));
      expect(Object.keys(get.responses)).toEqual(expect.arrayContaining(['200', '401', '403', '404']));
      const ref: string = get.responses['200'].content['application/json'].schema.$ref;
      expect(doc.components.schemas[ref.split('/').pop()!].required).toContain('items');
    }
  });
});

/**
 * "On every instance at once": the token lookup reads revocation from the database on every request, so a
 * link revoked through one instance is refused by the other from the very next request (no cache to wait
 * out, no bus message to lose). Two instances need PostgreSQL (PGlite is one process).
 */
(ON_POSTGRES ? describe : describe.skip)('portal link revocation across two instances on one PostgreSQL', () => {
  it('revoked on A (one link, then all), refused by B immediately, many rounds', async () => {
    const database = await createTestDatabase();
    const a = await startTestApp({ database });
    const b = await startTestApp({ database });
    try {
      const orgId = await createOrganization(a, 'portal-two', 'starter');
      const tokenOf = (url: string) => new URL(url).hash.replace(/^#portal=/, '');
      for (let round = 0; round < 10; round++) {
        const links = await Promise.all([0, 1].map(async () => (await a.http().post(`/api/admin/organizations/${orgId}/portal-sessions`).set(ADMIN).send({}).expect(201)).body as { id: string; url: string }));
        const [one, rest] = links.map((l) => ({ ...l, headers: { Authorization: `Bearer ${tokenOf(l.url)}` } }));
        await b.http().get(`/api/organizations/${orgId}/usage`).set(one.headers).expect(200);
        await a.http().delete(`/api/admin/organizations/${orgId}/portal-sessions/${one.id}`).set(ADMIN).expect(200);
        await b.http().get(`/api/organizations/${orgId}/usage`).set(one.headers).expect(401);
        await b.http().get(`/api/organizations/${orgId}/usage`).set(rest.headers).expect(200);
        await b.http().delete(`/api/admin/organizations/${orgId}/portal-sessions`).set(ADMIN).expect(200);
        await a.http().get(`/api/organizations/${orgId}/usage`).set(rest.headers).expect(401);
      }
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });
});
